"""QR codes read back by a real decoder (zxing-cpp): the decoded token must pass a quote at
a real till, also when the image is shrunk to what a small print gives."""

from __future__ import annotations

import io
import re
import uuid

import jwt
import zxingcpp
from PIL import Image

from pos.printing import qr
from tests.conftest import ADMIN, Shop, World
from tests.issuance_support import quote


def decode(img: Image.Image) -> list[zxingcpp.Barcode]:
    return [r for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode]


async def setup_voucher(world: World) -> tuple[Shop, dict[str, str]]:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    return shop, voucher


async def test_png_decodes_to_a_token_the_till_accepts(world: World) -> None:
    shop, voucher = await setup_voucher(world)
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.png", headers=ADMIN)
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert resp.headers["Cache-Control"] == "no-store"
    img = Image.open(io.BytesIO(await resp.read()))
    side = (len(qr.matrix(voucher["token"])) + 2 * qr.QUIET_ZONE) * qr.DEFAULT_MODULE_PX
    assert img.size == (side, side)

    (found,) = decode(img)
    assert found.ec_level == qr.ERROR_CORRECTION == "M"
    assert found.text == voucher["token"]
    status, quoted = await quote(world, shop, token=found.text)
    assert status == 200, quoted
    assert quoted["voucher"]["id"] == voucher["id"]

    # A 25 mm print at 300 dpi is about 3.5 px per module; shrink further, to about two
    # pixels per module with smoothing, as a cheap printer or a distant camera would.
    for px_per_module in (3.5, 2.2):
        small = img.resize((round(img.width * px_per_module / qr.DEFAULT_MODULE_PX),) * 2,
                           Image.Resampling.BILINEAR)
        (found,) = decode(small)
        assert found.text == voucher["token"], px_per_module


def svg_to_image(svg: str, scale: int = 4) -> Image.Image:
    """Draw the SVG's rectangles (the only shapes it uses) into a bitmap."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))  # type: ignore[union-attr]
    img = Image.new("1", (size * scale, size * scale), 1)
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        img.paste(0, (x0, y0, x0 + int(n) * scale, y0 + scale))
    return img


async def test_svg_draws_the_same_symbol(world: World) -> None:
    shop, voucher = await setup_voucher(world)
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.svg?module=6",
                                  headers=ADMIN)
    assert resp.status == 200
    assert resp.content_type == "image/svg+xml"
    svg = await resp.text()
    assert 'shape-rendering="crispEdges"' in svg
    side = (len(qr.matrix(voucher["token"])) + 2 * qr.QUIET_ZONE) * 6
    assert f'width="{side}"' in svg
    (found,) = decode(svg_to_image(svg))
    assert found.text == voucher["token"]
    status, _ = await quote(world, shop, token=found.text)
    assert status == 200


async def test_module_size_can_be_chosen_within_bounds(world: World) -> None:
    _, voucher = await setup_voucher(world)
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.png?module=3",
                                  headers=ADMIN)
    img = Image.open(io.BytesIO(await resp.read()))
    assert img.width == (len(qr.matrix(voucher["token"])) + 8) * 3
    for bad in ("1", "21", "x", "-4"):
        resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.png?module={bad}",
                                      headers=ADMIN)
        assert resp.status == 422
        assert (await resp.json())["code"] == "validation_error"


async def test_qr_refusals_are_problems(world: World) -> None:
    _, voucher = await setup_voucher(world)
    missing = await world.client.get(f"/v1/vouchers/{uuid.uuid4()}/qr.png", headers=ADMIN)
    assert missing.status == 404
    assert (await missing.json())["code"] == "not_found"
    anonymous = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.svg")
    assert anonymous.status == 401
    await world.post(f"/v1/vouchers/{voucher['id']}/revoke", None, status=200)
    revoked = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.png", headers=ADMIN)
    assert revoked.status == 403  # one status per code: as at the till
    assert revoked.content_type == "application/problem+json"
    assert (await revoked.json())["code"] == "voucher_revoked"


def test_the_documented_choice_fits_a_real_token() -> None:
    token = jwt.encode({"jti": str(uuid.uuid4()), "prg": str(uuid.uuid4()), "iss": "pos-vouchers",
                        "aud": "pos-till", "iat": 1_790_000_000, "nbf": 1_790_000_000,
                        "exp": 1_800_000_000}, "k" * 32, algorithm="HS256",
                       headers={"kid": "k20261123-abcdef"}) + "x" * 40  # EdDSA is longer
    modules = qr.matrix(token)
    # Version 15 at level M (77 modules) or close: small enough for 0.5 mm modules on a card.
    assert len(modules) <= 81
    assert qr.runs([[True, True, False, True]]) == [(0, 0, 2), (3, 0, 1)]


def test_the_fast_mask_choice_agrees_with_the_reference_encoder() -> None:
    """pos.printing.qr scores the eight masks with integer row operations instead of qrcode's
    loops; the symbols must be the reference encoder's own for the chosen mask, decode,
    and the choice must (almost always) be the reference's choice."""
    import qrcode

    agree = 0
    for i in range(30):
        token = f"eyJhbGciOiJFZERTQSJ9.{uuid.uuid4().hex * 6}.{i}"
        reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        reference.add_data(token)
        reference.make(fit=True)
        ours = qr._QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        ours.add_data(token)
        ours.make(fit=True)
        chosen = ours.best_mask_pattern()
        agree += chosen == reference.best_mask_pattern()
        fixed = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0,
                              mask_pattern=chosen)
        fixed.add_data(token)
        fixed.make(fit=True)
        assert qr.matrix(token) == [list(map(bool, r)) for r in fixed.get_matrix()]
        if i < 5:
            (found,) = decode(qr.image(token, 2))
            assert found.text == token
    assert agree >= 25, agree
