# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""`pos --help`, each command's `--help` and argparse's own refusals in the terminal's language.

The parser is written in English, where the code is read; `speak_terminal_language(parser)`
puts every help text of it (each command's, each option's) into Chinese under a Chinese
locale, from `HELP_ZH`, and argparse's own words (`usage:`, the headings, "the following
arguments are required", "invalid int value") from `ARGPARSE_ZH`, the strings argparse
passes through gettext. A help text missing from `HELP_ZH` stays English, and a test names it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from pos.cli.texts import language

HELP_ZH: dict[str, str] = {
    "The `pos` command: run the service, migrate, verify the ledger, manage keys, plugins.":
        "pos 命令：运行服务、迁移数据库结构、核对账目、管理密钥和插件。",
    "show this help message and exit": "显示此帮助并退出",
    "configuration file (default: ./config.toml)": "配置文件（默认：./config.toml）",
    "serve the API and the till": "运行 API 和收银台服务",
    "apply database migrations": "更新数据库结构",
    "prove the ledger balances; non-zero exit on a difference":
        "核对账目是否平衡；有差额时以非零状态退出",
    "list, rotate, retire or revoke signing keys": "列出、轮换、停用或撤销签名密钥",
    "list loaded plugins, their hooks and settings": "列出已加载的插件、其钩子和设置",
    "issue vouchers to a beneficiary list (CSV or JSON)": "按受助人名单（CSV 或 JSON）发券",
    "print a batch's cards as A4 PDF sheets": "把一个批次的券卡打印成 A4 PDF",
    "expire value left after its end date into the ledger": "把过了截止日期的剩余金额记为过期",
    "settlement batches: run, list, approve, export": "结算批次：生成、列出、批准、导出",
    "a program's report: figures, categories, ...": "项目报表：数字、品类……",
    "add or list named accounts (console sign-in)": "添加或列出具名账号（管理台登录）",
    "load demo data and print it": "载入演示数据并打印出来",
    "processes serving the port (default: [server] workers, 0 = one per CPU core)":
        "服务该端口的进程数（默认：[server] workers；0 表示每个 CPU 核心一个）",
    "the program's id": "项目的编号",
    "a batch id (UUID); default: derived from the list": "批次编号（UUID）；默认由名单推导",
    "output folder (default: ./issuance-<batch id>)": "输出文件夹（默认：./issuance-<批次编号>）",
    "also write cards.pdf": "同时写出 cards.pdf",
    "only check the list and report bad rows; issue nothing": "只检查名单并报告有误的行；不发券",
    "beneficiary list: .csv (ref,holder_ref,note) or .json":
        "受助人名单：.csv（ref,holder_ref,note）或 .json",
    "the batch's id": "批次的编号",
    "first list line to print": "从名单的第几行开始打印",
    "cards to print (default all)": "打印几张券卡（默认全部）",
    "the PDF file to write": "要写出的 PDF 文件",
    "cut batches of what is due up to a period end": "按截止时间生成应结算的批次",
    "batches, newest first": "结算批次，最新的在前",
    "one batch with its history and exports": "一个批次及其历史和导出记录",
    "approve a batch for payment, as a named account other than the one that cut its run":
        "以具名账号批准批次付款（不能是生成该结算的账号）",
    "record that an approved batch was paid": "记录已批准的批次已付款",
    "record that paying a batch failed": "记录批次付款失败",
    "write a batch in a format; prints its SHA-256": "按某种格式写出一个批次；打印其 SHA-256",
    "write a whole run as one file (pain001: one payment per merchant)":
        "把整次结算写成一个文件（pain001：每个商户一笔付款）",
    "a date (the whole day, local time) or an ISO date-time":
        "日期（当地时间的整天）或 ISO 格式的日期时间",
    "the finance or admin account cutting the run (it may then not approve its batches)":
        "生成结算的财务或管理员账号（之后不能批准这些批次）",
    "a name, for automation outside named accounts": "名称，供具名账号之外的自动化使用",
    "only this merchant's id": "只结算此商户（编号）",
    "only this program's id": "只结算此项目（编号）",
    "the approving finance or admin account": "批准付款的财务或管理员账号",
    "the bank's reference": "银行的参考号",
    "csv, json, pain001, or another installed exporter":
        "csv、json、pain001 或其他已安装的导出格式",
    "the language of the words a person reads in the file (a CSV's header row and line "
    "kinds); machine formats do not change":
        "文件中供人阅读的文字的语言（CSV 的表头和明细类型）；机器格式不变",
    "file to write (default: settlement-<id>.<ext>)":
        "要写出的文件（默认：settlement-<编号>.<扩展名>）",
    "file to write (default: settlement-run-<id>.<ext>)":
        "要写出的文件（默认：settlement-run-<编号>.<扩展名>）",
    "the report as JSON": "以 JSON 输出报表",
    "one section as CSV": "以 CSV 输出其中一节",
    "add an account; prints a one-time password": "添加账号；打印一次性密码",
    "list accounts and their roles": "列出账号及其角色",
    "also print a personal API token for scripts": "同时打印供脚本使用的个人 API 令牌",
}

# What argparse itself says, by the English it passes through gettext.
ARGPARSE_ZH: dict[str, str] = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示此帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "the following arguments are required: %s": "缺少以下参数：%s",
    "one of the arguments %s is required": "须给出参数 %s 之一",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "无效的选项：%(value)r（可选：%(choices)s）",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多需要一个值",
    "expected at least one argument": "至少需要一个值",
    "ambiguous option: %(option)s could match %(matches)s":
        "有歧义的选项：%(option)s 可以是 %(matches)s",
    "ignored explicit argument %r": "忽略了多余的值 %r",
}


def _argparse_words(message: str) -> str:
    return ARGPARSE_ZH.get(message, message) if language() != "en" else message


def help_texts(parser: argparse.ArgumentParser) -> Iterator[tuple[object, str]]:
    """Every help text of `parser` and its commands, with the object that holds it."""
    if parser.description:
        yield parser, parser.description
    for action in parser._actions:
        if action.help and action.help != argparse.SUPPRESS:
            yield action, action.help
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help:
                    yield choice, choice.help
            for command in action.choices.values():
                yield from help_texts(command)


# argparse looks its words up through the module's gettext alias at each use (the headings
# when a parser is made, the refusals when it parses).
argparse._ = _argparse_words  # type: ignore[attr-defined]


def speak_terminal_language(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`parser` with its help texts in the terminal's language."""
    if language() == "en":
        return parser
    for holder, text in list(help_texts(parser)):
        chinese = HELP_ZH.get(text)
        if chinese is None:
            continue
        if isinstance(holder, argparse.ArgumentParser):
            holder.description = chinese
        else:
            holder.help = chinese  # type: ignore[attr-defined]
    return parser
