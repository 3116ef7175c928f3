# ruff: noqa: RUF001
"""Admin calls: programs, merchants, partner links, tills, issuing and managing vouchers."""

from __future__ import annotations

from aiohttp import web

from pos.api.auth import new_till_secret, secret_hash
from pos.api.requests import IssueIn, MerchantIn, PartnerIn, ProgramIn, ProgramPatchIn, TillIn
from pos.api.routing import Routes
from pos.api.state import body, calling_staff, json_response, path_id, services
from pos.errors import validation_error
from pos.messages import Phrase, words
from pos.signing import keys
from pos.storage import program_changes
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store
from pos.vouchers import issuance, programs

routes = Routes("admin")


@routes.post("/v1/programs", summary="Create a program", auth="officer", body=ProgramIn,
             status=201, action=words("新建项目", "Create a program"))
async def create_program(request: web.Request) -> web.Response:
    svc = services(request)
    program_id = await programs.define_program(svc, await body(request, ProgramIn))
    return json_response((await setup_store.get_program(svc.pool, program_id)).as_json(),
                         status=201)


@routes.get("/v1/programs/{id}", summary="Read a program", auth="staff")
async def get_program(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    program = await setup_store.get_program(services(request).pool, program_id)
    return json_response(program.as_json())


@routes.patch("/v1/programs/{id}", summary="Change what may safely change in a program",
              auth="officer", body=ProgramPatchIn, action=words("修改项目", "Change a program"))
async def change_program(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    svc = services(request)
    patch = await body(request, ProgramPatchIn)
    staff = calling_staff(request)
    if staff.account_id is not None:
        # A named account is recorded as itself; nobody records another person's name.
        patch = patch.model_copy(update={"by": staff.login})
    elif patch.by is None:
        raise validation_error(words("请填写修改项目的操作人（by）。",
                                     "Say who is changing the program (by)."),
                               errors=[{"field": "by", "message": "required"}])
    program, change = await programs.change_program(svc, program_id, patch)
    return json_response({**program.as_json(),
                          "change": None if change is None else change.as_json()})


@routes.get("/v1/programs/{id}/changes", summary="Who changed what in a program, and when",
            auth="staff")
async def list_program_changes(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    svc = services(request)
    await setup_store.get_program(svc.pool, program_id)  # 404 for an unknown program
    found = await program_changes.list_changes(svc.pool, program_id)
    return json_response({"changes": [c.as_json() for c in found]})


@routes.post("/v1/merchants", summary="Register a merchant", auth="officer", body=MerchantIn,
             status=201, action=words("登记商户", "Register a merchant"))
async def create_merchant(request: web.Request) -> web.Response:
    merchant = await body(request, MerchantIn)
    svc = services(request)
    merchant_id = await setup_store.create_merchant(svc.pool, merchant.name)
    return json_response(await setup_store.get_merchant(svc.pool, merchant_id), status=201)


@routes.get("/v1/merchants/{id}", summary="Read a merchant", auth="staff")
async def get_merchant(request: web.Request) -> web.Response:
    merchant_id = path_id(request, "id", "merchant")
    return json_response(await setup_store.get_merchant(services(request).pool, merchant_id))


@routes.post("/v1/programs/{id}/merchants", summary="Make a merchant a partner of a program",
             auth="officer", body=PartnerIn, status=201,
             action=words("将商户加入项目", "Make a merchant a partner of a program"))
async def add_partner(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    partner = await body(request, PartnerIn)
    await setup_store.add_partner(services(request).pool, program_id, partner.merchant_id)
    return json_response({"program_id": program_id, "merchant_id": partner.merchant_id},
                         status=201)


@routes.post("/v1/merchants/{id}/tills", summary="Add a till; its secret is shown only here",
             auth="officer", body=TillIn, status=201, action=words("添加收银台", "Add a till"))
async def create_till(request: web.Request) -> web.Response:
    merchant_id = path_id(request, "id", "merchant")
    till = await body(request, TillIn)
    secret = new_till_secret()
    till_id = await setup_store.create_till(
        services(request).pool, merchant_id, till.name, secret_hash(secret))
    return json_response({"id": till_id, "merchant_id": merchant_id, "name": till.name,
                          "secret": secret}, status=201)


@routes.post("/v1/programs/{id}/vouchers", summary="Issue vouchers to beneficiaries",
             auth="officer", body=IssueIn, status=201,
             action=words("向受助人发券", "Issue vouchers"))
async def issue(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    payload = await body(request, IssueIn)
    issued = await issuance.issue_vouchers(
        services(request), program_id, [b.model_dump() for b in payload.beneficiaries])
    return json_response({"vouchers": issued}, status=201)


@routes.get("/v1/vouchers/{id}", summary="Read a voucher: status, balance, credits",
            auth="staff")
async def get_voucher(request: web.Request) -> web.Response:
    voucher_id = path_id(request, "id", "voucher")
    return json_response(await voucher_store.get_voucher(services(request).pool, voucher_id))


def _status_route(action: str, named: Phrase) -> None:
    async def change(request: web.Request) -> web.Response:
        voucher_id = path_id(request, "id", "voucher")
        status = await voucher_store.change_status(services(request).pool, voucher_id, action)
        return json_response({"id": voucher_id, "status": status})

    change.__name__ = f"{action}_voucher"  # a distinct OpenAPI operationId per action
    routes.post(f"/v1/vouchers/{{id}}/{action}", summary=f"{action.capitalize()} a voucher",
                auth="officer", action=named)(change)


_status_route("suspend", words("暂停券", "Suspend a voucher"))
_status_route("resume", words("恢复券", "Resume a voucher"))
_status_route("revoke", words("作废券", "Revoke a voucher"))


@routes.get("/v1/plugins", summary="Loaded plugins, their hooks and settings", auth="staff")
async def list_plugins(request: web.Request) -> web.Response:
    return json_response({"plugins": services(request).plugins.describe()})


@routes.get("/v1/keys", summary="Signing keys and their status", auth="staff")
async def list_keys(request: web.Request) -> web.Response:
    found = await keys.list_keys(services(request).pool)
    return json_response({"keys": [
        {"kid": k.kid, "status": k.status, "created_at": k.created_at.isoformat()}
        for k in found]})
