"""The gateway's (服务网关) data plane on nginx: its configuration, generated from the
registered service interfaces (`govshare gateway config`), and its reload (`… reload`).

Per call nginx does, in order:
1. routes `/gateway/<resource code>/…` by a location per published interface;
2. asks the platform (`auth_request` to an internal location proxying to
   `/api/v1/gateway/auth`, `exchange.gateway_auth`) whether the call may pass — the answer
   cached for at most one second per credential, method and target, so a suspended grant
   is refused from the next second on; a refusal is answered with the platform's reason
   as problem+json;
3. counts the call against its grant's rate (`limit_req`, keyed by the grant the platform
   named; one zone per distinct per-minute rate, its burst the whole minute's allowance,
   so a grant may spend its minute at once and then regains calls at its rate);
4. forwards it over keep-alive connections with the interface's timeout, the consumer's
   credentials and cookies stripped and the platform's `X-Govshare-*` headers set;
5. writes one JSON line per call to its access log (`log_format … escape=json`), which
   the worker ingests into the usage log and the audit log (`exchange.gateway_ingest`).

Routing, limiting and forwarding need the phases in that order, but nginx checks
`limit_req` (preaccess) before `auth_request` (access): so the interface's location
authenticates and hands the call on (`try_files` to a path that does not exist) to a
named location, where `limit_req` runs with the grant already known.

`standalone` writes a whole nginx.conf for an nginx of the platform's own
(`nginx -p DIR -c DIR/nginx.conf`); otherwise an `http {}`-level include for a site.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from govshare.exchange.service.gateway_plane import DataPlane, PlaneInterface
from govshare.exchange.service.interfaces import PATH_PARAM

AUTH_LOCATION = "/_govshare_gateway_auth"
LOG_FORMAT = "govshare_gateway"
MAX_BODY_MB = 16
AUTH_CACHE_SECONDS = 1  # a decision's longest reuse, should the platform's expiry be missing
# What nginx keeps of the platform's answer (auth_request_set), by variable.
AUTH_HEADERS = {
    "gw_actor": "x_gateway_actor",
    "gw_resource": "x_gateway_resource",
    "gw_provider": "x_gateway_provider",
    "gw_consumer": "x_gateway_consumer",
    "gw_grant": "x_gateway_grant",
    "gw_grant_number": "x_gateway_grant_number",
    "gw_endpoint": "x_gateway_endpoint",
    "gw_caller": "x_gateway_caller",
    "gw_status": "x_gateway_status",
    "gw_problem": "x_gateway_problem",
    "gw_rate": "x_gateway_rate",
}
# One access-log line: short keys, every value a string (escape=json quotes them safely).
LOG_FIELDS = {
    "t": "$msec",
    "id": "$request_id",
    "i": "$gw_interface",
    "m": "$request_method",
    "u": "$request_uri",
    "s": "$status",
    "b": "$body_bytes_sent",
    "d": "$request_time",
    "ip": "$remote_addr",
    "a": "$gw_actor",
    "r": "$gw_resource",
    "p": "$gw_provider",
    "c": "$gw_consumer",
    "g": "$gw_grant",
    "n": "$gw_grant_number",
    "e": "$gw_endpoint",
    "gs": "$gw_status",
    "pr": "$gw_problem",
    "rl": "$gw_rate_limit",
    "k": "$gw_endpoint_key",
    "uh": "$upstream_header_time",
}
_PROBLEM = "urn:govshare:error:"


@dataclass(frozen=True)
class NginxOptions:
    """Where the data plane listens, reaches the platform and keeps its files."""

    listen: str  # nginx's `listen` argument: "8080", "127.0.0.1:8080"
    platform_url: str  # the platform as nginx reaches it, for the auth_request
    key: str  # `gateway_auth.plane_key`
    directory: Path  # cache, log, pid and temporary files
    access_log: Path
    default_rate_limit: int
    standalone: bool = True
    worker_processes: str = "auto"
    user: str = ""  # the workers' user when nginx starts as root: the files' owner


def _quote(value: str) -> str:
    """A value as an nginx string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}") + '"'


def _literal(value: str) -> str:
    """A map's pattern or value as a quoted nginx string (no variables in either)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _problem(kind: str, title: str, status: int, detail: str) -> str:
    """A problem+json body for `return`, whose detail may hold nginx variables."""
    body = json.dumps(
        {"type": _PROBLEM + kind, "title": title, "status": status, "detail": "DETAIL"},
        ensure_ascii=False,
    )
    return "'" + body.replace("DETAIL", detail) + "'"


def _pcre(text: str) -> str:
    """Literal text in a PCRE pattern."""
    return "".join(c if c.isalnum() or c in "/_-:" else "\\" + c for c in text)


def _template_regex(prefix: str, template: str) -> str:
    """A path template (/items/{id}) below `prefix` as nginx's regex: a parameter is one
    segment, as in `gateway_admission`."""
    parts = PATH_PARAM.split(template)
    pattern = "".join(_pcre(part) if i % 2 == 0 else "[^/]+" for i, part in enumerate(parts))
    return _pcre(prefix) + pattern


def _upstream(interface: PlaneInterface) -> tuple[str, str, str, bool]:
    """(server, Host header, base path, https) of an interface's base URL."""
    parts = urlsplit(interface.base_url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    return f"{parts.hostname}:{port}", parts.netloc, parts.path.rstrip("/"), https


def render(plane: DataPlane, options: NginxOptions) -> str:
    """The nginx configuration of the data plane."""
    d = options.directory
    lines: list[str] = []
    add = lines.append
    if options.standalone:
        if options.user:  # heeded only when nginx starts as root
            add(f"user {options.user};")
        add(f"worker_processes {options.worker_processes};")
        add(f"pid {d / 'nginx.pid'};")
        add(f"error_log {d / 'error.log'} warn;")
        add("events { worker_connections 4096; }")
        add("http {")
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            add(f"    {temp}_temp_path {d / 'tmp' / temp};")
        add("    access_log off;")
        add("    default_type application/octet-stream;")
        add("    tcp_nodelay on;")
        add("    keepalive_requests 100000;")
        add("    server_tokens off;")
    fields = ",".join(f'"{key}":"{value}"' for key, value in LOG_FIELDS.items())
    add(f"    log_format {LOG_FORMAT} escape=json '{{{fields}}}';")
    add(
        f"    proxy_cache_path {d / 'auth-cache'} levels=1:2 keys_zone=govshare_gateway_auth:10m"
        " max_size=64m inactive=10s use_temp_path=off;"
    )
    # The grant's rate, or the default; then one key per configured rate, set only for
    # calls whose grant has that rate (an empty key is not counted), and one for a rate
    # set after the configuration was written, counted at the default.
    rates = sorted(set(plane.rate_limits) | {options.default_rate_limit})
    add("    map $gw_rate $gw_rate_limit {")
    add("        volatile;")
    add(f'        "" {options.default_rate_limit};')
    add("        default $gw_rate;")
    add("    }")
    for rate in rates:
        add(f"    map $gw_rate_limit $gw_limit_{rate} {{")
        add("        volatile;")
        add(f'        "{rate}" $gw_grant;')
        add('        default "";')
        add("    }")
        add(f"    limit_req_zone $gw_limit_{rate} zone=govshare_gw_{rate}:10m rate={rate}r/m;")
    add("    map $gw_rate_limit $gw_limit_other {")
    add("        volatile;")
    for rate in rates:
        add(f'        "{rate}" "";')
    add("        default $gw_grant;")
    add("    }")
    other = options.default_rate_limit
    add(f"    limit_req_zone $gw_limit_other zone=govshare_gw_other:10m rate={other}r/m;")
    # The raw target below the resource code, as the caller sent it (its query included).
    add("    map $request_uri $gw_target {")
    add(r"        ~^/gateway/[^/?]+/[^/?]+(?<gw_rest>/.*)$ $gw_rest;")
    add('        default "/";')
    add("    }")
    # The endpoint a call hits, by the interface's path templates, the most literal first (as
    # `gateway_admission.match_endpoint` picks): decisions are cached per endpoint, not per
    # concrete path, so calls on many records share one. A path no template matches keys
    # by itself (the platform refuses it, 404).
    # ($gw_path: the main request's $uri, which in the auth subrequest is its own)
    add('    map "$gw_interface:$request_method:$gw_path" $gw_endpoint_key {')
    add("        volatile;")
    for interface in plane.interfaces:
        ordered = sorted(
            interface.endpoints, key=lambda e: (len(PATH_PARAM.findall(e[1])), -len(e[1]))
        )
        for method, template in ordered:
            pattern = _template_regex(f"/gateway/{interface.resource_code}", template)
            key = f"{interface.resource_code}:{method}:"
            regex = _literal("~^" + _pcre(key) + pattern + "$")
            add(f"        {regex} {_literal(f'{method} {template}')};")
    add("        default $gw_path;")
    add("    }")
    # Dot segments, however encoded, are refused before anything else: nginx resolves them
    # in $uri, but the raw target goes upstream, where they would leave the base path.
    add("    map $request_uri $gw_dots {")
    add(r'        "~*^[^?]*/(\.|%2e){1,2}(/|\?|$)" 1;')
    add('        default "";')
    add("    }")
    platform = urlsplit(options.platform_url)
    add("    upstream govshare_platform {")
    add(f"        server {platform.hostname}:{platform.port or 80};")
    add("        keepalive 32;")
    add("    }")
    for n, interface in enumerate(plane.interfaces):
        server, _, _, _ = _upstream(interface)
        add(f"    upstream govshare_interface_{n} {{")
        add(f"        server {server};")
        add("        keepalive 64;")
        add("    }")
    add("    server {")
    add(f"        listen {options.listen} reuseport;" if options.standalone else "")
    if not options.standalone:
        lines[-1] = f"        listen {options.listen};"
    add(f"        root {d / 'empty'};")
    add("        merge_slashes off;  # the path the platform decides on is the path forwarded")
    add(f"        client_max_body_size {MAX_BODY_MB}m;")
    add(f"        access_log {options.access_log} {LOG_FORMAT} buffer=32k flush=1s;")
    add("        error_page 413 = @govshare_413;")
    _auth_location(add, options)
    _refusals(add)
    for n, interface in enumerate(plane.interfaces):
        _interface_locations(add, n, interface, rates, options.default_rate_limit)
    add("        location /gateway/ {")
    # declares the variables the log format names, should no interface be published
    for variable in ("gw_interface", "gw_path", *AUTH_HEADERS):
        add(f'            set ${variable} "";')
    detail = "资源 $uri 未发布服务接口"
    add("            default_type application/problem+json;")
    add(f"            return 404 {_problem('not-found', '资源不存在', 404, detail)};")
    add("        }")
    add("        location / {")
    add("            access_log off;")
    add("            return 404;")
    add("        }")
    add("    }")
    if options.standalone:
        add("}")
    text = "\n".join(line for line in lines if line != "")
    if not options.standalone:  # an include sits at http {} level already
        text = "\n".join(line[4:] if line.startswith("    ") else line for line in text.split("\n"))
    header = "# Generated by `govshare gateway config`; edits are lost on the next reload.\n"
    return header + text + "\n"


def _auth_location(add: Callable[[str], None], options: NginxOptions) -> None:
    add(f"        location = {AUTH_LOCATION} {{")
    add("            internal;")
    add("            access_log off;")
    add("            proxy_pass http://govshare_platform/api/v1/gateway/auth;")
    add("            proxy_http_version 1.1;")
    add('            proxy_set_header Connection "";')
    add("            proxy_method GET;")
    add("            proxy_pass_request_body off;")
    add('            proxy_set_header Content-Length "";')
    add('            proxy_set_header Cookie "";')
    add(f"            proxy_set_header X-Gateway-Key {_quote(options.key)};")
    add("            proxy_set_header X-Gateway-Interface $gw_interface;")
    add("            proxy_set_header X-Original-Method $request_method;")
    add("            proxy_set_header X-Original-URI $request_uri;")
    add("            proxy_set_header X-Real-IP $remote_addr;")
    add("            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;")
    add("            proxy_cache govshare_gateway_auth;")
    add("            proxy_cache_methods GET HEAD POST;")
    key = "$http_authorization|$ssl_client_escaped_cert|$request_method|$gw_interface|$gw_endpoint_key"
    add(f'            proxy_cache_key "{key}";')
    add(f"            proxy_cache_valid 204 401 403 {AUTH_CACHE_SECONDS}s;")
    add("            proxy_cache_lock on;")
    add("            proxy_cache_lock_timeout 2s;")
    # the platform's X-Accel-Expires ends each decision with the machine's current second
    add("            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;")
    add("            proxy_connect_timeout 5s;")
    add("            proxy_read_timeout 10s;")
    add("        }")


def _refusals(add: Callable[[str], None]) -> None:
    """The data plane's own answers, as problem+json with a Chinese reason."""
    add("        location @govshare_401 {")
    add("            default_type application/problem+json;")
    # WWW-Authenticate: auth_request passes on the platform's
    add("            return 401 '$gw_problem';")
    add("        }")
    add("        location @govshare_403 {")
    add("            default_type application/problem+json;")
    add("            if ($gw_status = \"404\") { return 404 '$gw_problem'; }")
    add('            if ($gw_problem = "") {')
    unavailable = _problem(
        "gateway-unavailable", "平台暂时无法处理调用", 503, "平台暂时无法处理调用，请稍后重试"
    )
    add(f"                return 503 {unavailable};")
    add("            }")
    add("            return 403 '$gw_problem';")
    add("        }")
    add("        location @govshare_unavailable {")
    add("            default_type application/problem+json;")
    add(f"            return 503 {unavailable};")
    add("        }")
    detail = "调用过于频繁：授权 $gw_grant_number 每分钟最多调用 $gw_rate_limit 次，请稍后重试"
    add("        location @govshare_429 {")
    add("            default_type application/problem+json;")
    add("            add_header Retry-After 60 always;")
    add(f"            return 429 {_problem('rate-limited', '调用过于频繁', 429, detail)};")
    add("        }")
    add("        location @govshare_413 {")
    add("            default_type application/problem+json;")
    detail = f"请求体超过 {MAX_BODY_MB} MB"
    add(f"            return 413 {_problem('body-too-large', '请求体过大', 413, detail)};")
    add("        }")
    add("        location @govshare_502 {")
    add("            default_type application/problem+json;")
    detail = "上游服务不可达"
    add(
        f"            return 502 {_problem('upstream-unreachable', '上游服务不可达', 502, detail)};"
    )
    add("        }")
    add("        location @govshare_504 {")
    add("            default_type application/problem+json;")
    detail = "上游服务超时"
    add(f"            return 504 {_problem('upstream-timeout', '上游服务超时', 504, detail)};")
    add("        }")


def _interface_locations(
    add: Callable[[str], None],
    n: int,
    interface: PlaneInterface,
    rates: list[int],
    default: int,
) -> None:
    _, host, path, https = _upstream(interface)
    code = interface.resource_code
    timeout = f"{max(interface.timeout_seconds, 0.001):g}s"
    add(f"        location ^~ /gateway/{code}/ {{")
    add(f'            set $gw_interface "{code}";')
    add("            set $gw_path $uri;")
    add("            if ($gw_dots) {")
    add(
        "                return 404 "
        + _problem("not-found", "接口不存在", 404, "接口不存在：$uri")
        + ";"
    )
    add("            }")
    add(f"            auth_request {AUTH_LOCATION};")
    for variable, header in AUTH_HEADERS.items():
        add(f"            auth_request_set ${variable} $upstream_http_{header};")
    add("            error_page 401 = @govshare_401;")
    add("            error_page 403 = @govshare_403;")
    add("            error_page 500 = @govshare_unavailable;")
    add(f"            try_files /.govshare-forward @govshare_interface_{n};")
    add("        }")
    add(f"        location @govshare_interface_{n} {{")
    for rate in rates:
        # the call itself and `burst` more at once: a minute's allowance, then its rate
        add(f"            limit_req zone=govshare_gw_{rate} burst={rate - 1} nodelay;")
    add(f"            limit_req zone=govshare_gw_other burst={default - 1} nodelay;")
    add("            limit_req_status 429;")
    add("            error_page 429 = @govshare_429;")
    add("            error_page 502 = @govshare_502;")
    add("            error_page 504 = @govshare_504;")
    scheme = "https" if https else "http"
    add(f"            proxy_pass {scheme}://govshare_interface_{n}{path}$gw_target;")
    if https:
        add("            proxy_ssl_server_name on;")
        add(f"            proxy_ssl_name {urlsplit(interface.base_url).hostname};")
    add("            proxy_http_version 1.1;")
    add('            proxy_set_header Connection "";')
    add(f"            proxy_set_header Host {_quote(host)};")
    for header in ("Authorization", "Cookie", "Forwarded", "X-Forwarded-Host"):
        add(f'            proxy_set_header {header} "";')
    add('            proxy_set_header X-Forwarded-Proto "";')
    add('            proxy_set_header X-Real-IP "";')
    add("            proxy_set_header X-Forwarded-For $remote_addr;")
    add("            proxy_set_header X-Govshare-Consumer $gw_consumer;")
    add("            proxy_set_header X-Govshare-Grant $gw_grant_number;")
    add("            proxy_set_header X-Govshare-Caller $gw_caller;")
    add("            proxy_hide_header Set-Cookie;")
    add(f"            proxy_connect_timeout {timeout};")
    add(f"            proxy_send_timeout {timeout};")
    add(f"            proxy_read_timeout {timeout};")
    add("        }")


def write(text: str, target: Path, directory: Path) -> str:
    """Writes the configuration (readable by its owner and group only: it holds the key)
    and the directories it names; returns its SHA-256."""
    for sub in ("auth-cache", "empty", *(f"tmp/{t}" for t in ("client_body", "proxy"))):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".new")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(0o640)
    partial.replace(target)
    return hashlib.sha256(text.encode()).hexdigest()


def reload_commands(command: str, config: Path, directory: Path) -> list[list[str]]:
    """The test and reload commands: `command` (the settings') with `-t` for the test, or
    nginx run on the standalone configuration."""
    if command:
        base = shlex.split(command)
        return [[*base, "-t"], [*base, "-s", "reload"]]
    base = ["nginx", "-p", str(directory), "-c", str(config)]
    return [[*base, "-t", "-q"], [*base, "-s", "reload"]]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)
