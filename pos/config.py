# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Service configuration: defaults here, `config.toml` over them, `POS_<SECTION>_<KEY>` over both.

Every key of every section is declared once, as a dataclass field with its type and default;
`config.toml` at the project root documents the same keys (a test keeps the two in step).
Plugin tables (`[plugins.<name>]`) are handed to the plugins untouched, apart from the
environment override, which works for them too (`POS_PLUGINS_<NAME>_<KEY>`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pos.errors import ConfigError
from pos.messages import words

# Numbers that mean something only in a range; every other number of the configuration
# (sizes, counts, seconds, amounts) may not be negative.
_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("server", "port"): (1, 65535),
    ("database", "pool_max_size"): (1, 10_000),
}
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("server", "log_format"): ("json", "text"),
}
# The kinds a value is read as, named for the person who wrote it.
_KIND_WORDS = {"int": "整数", "float": "数字", "bool": "布尔值（true 或 false）"}


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 64 * 1024
    public_url: str = ""
    workers: int = 0  # 0: one per CPU core
    trusted_proxies: tuple[str, ...] = ()
    log_format: str = "json"


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""
    replica_url: str = ""
    pool_min_size: int = 2
    pool_max_size: int = 10
    # How long `pos run` waits for an unreachable database at start before giving up.
    start_wait_seconds: float = 120.0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dir: str = ".pos-data"


@dataclasses.dataclass(frozen=True)
class AdminConfig:
    token: str = ""


@dataclasses.dataclass(frozen=True)
class MetricsConfig:
    # The bearer token Prometheus sends to read GET /metrics; empty: /metrics is off (404).
    token: str = ""


@dataclasses.dataclass(frozen=True)
class TokensConfig:
    issuer: str = "pos-vouchers"
    audience: str = "pos-till"
    leeway_seconds: int = 60
    max_token_bytes: int = 2048


@dataclasses.dataclass(frozen=True)
class RedemptionConfig:
    timezone: str = "Asia/Shanghai"
    void_window_minutes: int = 30
    idempotency_lease_seconds: int = 30
    # Category codes no program may pay for, whatever its rules say (the `any` rule too).
    never_pay: tuple[str, ...] = ("alcohol", "tobacco", "lottery", "gift_card")


@dataclasses.dataclass(frozen=True)
class LimitsConfig:
    code_lookups_per_minute: int = 20
    code_tries_per_minute: int = 10
    pairing_attempts_per_minute: int = 10
    sign_ins_per_minute: int = 10


@dataclasses.dataclass(frozen=True)
class OfflineConfig:
    """Defaults of the offline limits; a program (and a merchant of it) may set its own."""

    enabled: bool = True
    max_per_sale: int = 5000
    max_till_total: int = 50000
    max_offline_seconds: int = 24 * 3600
    kit_refresh_seconds: int = 300
    # The most manual codes one kit carries (typed codes offline); past it, see docs/offline.md.
    kit_max_codes: int = 20000


@dataclasses.dataclass(frozen=True)
class VouchersConfig:
    font_path: str = ""
    max_upload_bytes: int = 32 * 1024 * 1024
    holder_views_per_minute: int = 30


@dataclasses.dataclass(frozen=True)
class ConsoleConfig:
    session_hours: int = 8
    sign_in_attempts: int = 5
    lock_minutes: int = 15
    sign_ins_per_minute: int = 20
    second_confirmation_above: int = 100000


@dataclasses.dataclass(frozen=True)
class PluginsConfig:
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    timeout_seconds: float = 2.0
    event_timeout_seconds: float = 10.0
    event_poll_seconds: float = 1.0
    event_retry_seconds: float = 2.0
    event_retry_max_seconds: float = 600.0
    event_max_attempts: int = 20
    settings: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Config:
    server: ServerConfig = dataclasses.field(default_factory=ServerConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    admin: AdminConfig = dataclasses.field(default_factory=AdminConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)
    tokens: TokensConfig = dataclasses.field(default_factory=TokensConfig)
    redemption: RedemptionConfig = dataclasses.field(default_factory=RedemptionConfig)
    limits: LimitsConfig = dataclasses.field(default_factory=LimitsConfig)
    vouchers: VouchersConfig = dataclasses.field(default_factory=VouchersConfig)
    offline: OfflineConfig = dataclasses.field(default_factory=OfflineConfig)
    plugins: PluginsConfig = dataclasses.field(default_factory=PluginsConfig)
    console: ConsoleConfig = dataclasses.field(default_factory=ConsoleConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.data.dir).expanduser().resolve()


_SECTION_TYPES: dict[str, type[Any]] = {
    "server": ServerConfig,
    "database": DatabaseConfig,
    "data": DataConfig,
    "admin": AdminConfig,
    "metrics": MetricsConfig,
    "tokens": TokensConfig,
    "redemption": RedemptionConfig,
    "limits": LimitsConfig,
    "vouchers": VouchersConfig,
    "offline": OfflineConfig,
    "plugins": PluginsConfig,
    "console": ConsoleConfig,
}


def parse_bool(value: Any) -> bool:
    """A yes or no of the configuration: TOML's true/false, or 1/0, yes/no, on/off, true/false
    in an environment variable. Anything else is a mistake (`flase` is not false) and raises
    ValueError."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{value!r} is not a yes or no")


def _coerce(value: Any, kind: Any, where: str) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name.startswith("tuple"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if kind_name == "bool":
            return parse_bool(value)
        if kind_name == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not a whole number")
            return int(value)
        if kind_name == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("not a finite number")
            return number
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(words("配置项 {where} 须为{kind}，现为 {value}",
                                "{where}: {value} is not a valid {kind_name}",
                                where=where, kind=_KIND_WORDS.get(kind_name, kind_name),
                                kind_name=kind_name, value=repr(value))) from exc


def _check(section: str, values: Mapping[str, Any]) -> None:
    """Refuse a number out of its range, or a word not among its choices, naming the key: a
    port past 65535 would otherwise be taken modulo 65536 by the socket layer, and a pool
    smaller than its floor would stop the service with a trace."""
    for key, value in values.items():
        where = f"[{section}] {key}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = _RANGES.get((section, key), (0, float("inf")))
            if high == float("inf") and value < low:
                raise ConfigError(words("配置项 {where} 不能为负数，现为 {value}",
                                        "{where} must be 0 or more, not {value}",
                                        where=where, value=value))
            if not low <= value <= high:
                raise ConfigError(words("配置项 {where} 须在 {low} 到 {high} 之间，现为 {value}",
                                        "{where} must be between {low} and {high}, not {value}",
                                        where=where, low=low, high=high, value=value))
        choices = _CHOICES.get((section, key))
        if choices is not None and value not in choices:
            raise ConfigError(words("配置项 {where} 须为 {choices} 之一，现为 {value}",
                                    "{where} must be one of {choices}, not {value}",
                                    where=where, choices=", ".join(choices),
                                    value=repr(value)))
    if section == "database":
        low, high = (values.get("pool_min_size", DatabaseConfig.pool_min_size),
                     values.get("pool_max_size", DatabaseConfig.pool_max_size))
        if low > high:
            raise ConfigError(words(
                "配置项 [database] pool_min_size（{low}）不能大于 [database] pool_max_size"
                "（{high}）",
                "[database] pool_min_size ({low}) cannot be larger than [database] "
                "pool_max_size ({high})", low=low, high=high))


def _env_value(env: Mapping[str, str], *parts: str) -> str | None:
    return env.get("POS_" + "_".join(p.upper() for p in parts))


def _plugin_settings(
    tables: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    settings = {name: dict(table) for name, table in tables.items() if isinstance(table, dict)}
    prefix = "POS_PLUGINS_"
    for key, value in env.items():
        if not key.startswith(prefix) or key in {"POS_PLUGINS_ENABLED", "POS_PLUGINS_DISABLED"}:
            continue
        rest = key[len(prefix):].lower()
        for name in settings:
            if rest.startswith(name.lower() + "_"):
                settings[name][rest[len(name) + 1:]] = value
    return settings


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read the configuration: `path` (or `$POS_CONFIG`, or ./config.toml if present)."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    candidate = Path(path) if path else Path(env.get("POS_CONFIG", "config.toml"))
    if candidate.is_file():
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(words("配置文件 {path} 无法读取：{reason}", "{path}: {reason}",
                                    path=candidate, reason=exc)) from exc
    elif path:
        raise ConfigError(words("配置文件 {path} 不存在",
                                "configuration file {path} does not exist", path=candidate))

    unknown = set(raw) - set(_SECTION_TYPES)
    if unknown:
        raise ConfigError(words("未知的配置节：{names}",
                                "unknown configuration section(s): {names}",
                                names=", ".join(sorted(unknown))))

    sections: dict[str, Any] = {}
    for name, section_type in _SECTION_TYPES.items():
        table = raw.get(name, {})
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(section_type)}
        for key, value in table.items():
            if name == "plugins" and isinstance(value, dict):
                continue
            if key not in fields:
                raise ConfigError(words("未知的配置项 [{section}] {key}",
                                        "unknown configuration key [{section}] {key}",
                                        section=name, key=key))
        for key, field in fields.items():
            if key == "settings":
                continue
            value = _env_value(env, name, key)
            if value is None and key in table:
                value = table[key]
            if value is not None:
                values[key] = _coerce(value, field.type, f"[{name}] {key}")
        _check(name, values)
        if name == "plugins":
            values["settings"] = _plugin_settings(
                {k: v for k, v in table.items() if isinstance(v, dict)}, env
            )
        sections[name] = section_type(**values)
    return Config(**sections)
