"""Where the platforms beside the demo city live and listen: their data directories under
the city's, their settings, and their ports, chosen at the first build and remembered in
`levels/levels.json` (the identities' federation addresses name them too)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govshare.core import embedded
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.demo import catalog as catalog_demo
from govshare.federation import service as federation
from govshare.federation.models import PlatformLevel

SPEC: dict[str, Any] = catalog_demo.load_data("levels.yaml")
DIRECTORY = "levels"  # under the city's data directory
STATE_FILE = "levels.json"  # the ports chosen at the first build
HOST = "127.0.0.1"
# Settings a platform process takes from the demo's environment: the clock and how secrets
# are sealed must be the same for the build (in the demo's process) and the platform's own.
PASSED_ON = (
    "GOVSHARE_CLOCK_START",
    "GOVSHARE_TIMEZONE",
    "GOVSHARE_AUDIT_HASH",
    "GOVSHARE_CREDENTIAL_CIPHER",
)


@dataclass(frozen=True)
class Node:
    """The province or the county: where its data lives and where it listens."""

    key: str  # province or county, its section of levels.yaml
    code: str  # 行政区划代码
    name: str
    area: str  # the header's name (GOVSHARE_CITY_NAME)
    level: PlatformLevel
    data_dir: Path
    port: int  # the web pages and API
    federation_port: int

    @property
    def spec(self) -> dict[str, Any]:
        return SPEC[self.key]  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def federation_url(self) -> str:
        return f"https://{HOST}:{self.federation_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "serve.log"

    def environ(self) -> dict[str, str]:
        """The platform's settings (GOVSHARE_*): for its runtime here and its process."""
        passed = {k: os.environ[k] for k in PASSED_ON if os.environ.get(k)}
        return passed | {
            "GOVSHARE_DATA_DIR": str(self.data_dir),
            "GOVSHARE_POLICY_PROFILE": catalog_demo.PROFILE,
            "GOVSHARE_CITY_NAME": self.area,
            "GOVSHARE_FEDERATION_HOST": HOST,
            "GOVSHARE_FEDERATION_PORT": str(self.federation_port),
        }

    def runtime(self) -> Runtime:
        return build_runtime(load_settings(environ=self.environ()))


@dataclass(frozen=True)
class Plan:
    """The three platforms' places: the city's federation port and the two others."""

    city_federation_port: int
    nodes: dict[str, Node]  # province, county

    @property
    def city_federation_url(self) -> str:
        return f"https://{HOST}:{self.city_federation_port}"


# --- ports -------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    """Whether nothing listens on the loopback port."""
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _choose(defaults: dict[str, int], *, free: bool, taken: set[int]) -> dict[str, int]:
    """A port for each name: its default unless `free` or it is taken, else one the system
    hands out (held open until all are chosen, so no two are the same)."""
    chosen: dict[str, int] = {}
    with contextlib.ExitStack() as held:
        for name, default in defaults.items():
            if not free and default not in taken and port_free(default):
                chosen[name] = default
            else:
                sock = held.enter_context(socket.socket())
                sock.bind((HOST, 0))
                chosen[name] = int(sock.getsockname()[1])
            taken.add(chosen[name])
    return chosen


def _recorded(root: Path) -> dict[str, int]:
    """The federation ports the platforms' databases already name (their identities, and
    the city as their peer), for when levels.json is gone but the platforms are not."""
    found: dict[str, int] = {}
    for key in ("province", "county"):
        path = root / key / "govshare.db"
        if not embedded.has_schema(path):
            continue
        with embedded.reading(path) as conn:
            own = conn.execute(
                "SELECT url FROM federation_identity ORDER BY id DESC LIMIT 1"
            ).fetchone()
            city = conn.execute(
                "SELECT url FROM federation_peer WHERE code = ?", (SPEC["city"]["code"],)
            ).fetchone()
        if own:
            found[f"{key}.federation"] = federation.port_of(own[0])
        if city:
            found["city.federation"] = federation.port_of(city[0])
    return found


def plan(city_data_dir: Path, *, free: bool = False, taken: set[int] | None = None) -> Plan:
    """Where the platforms live and listen: the ports remembered at the first build, or
    chosen now and remembered (levels.yaml's defaults; free ones when `free`, or for a
    default that is in use or in `taken`)."""
    root = city_data_dir / DIRECTORY
    state_path = root / STATE_FILE
    if state_path.exists():
        ports = json.loads(state_path.read_text(encoding="utf-8"))
    else:
        recorded = _recorded(root)
        defaults = {"city.federation": SPEC["city"]["ports"]["federation"]}
        for key in ("province", "county"):
            for name, port in SPEC[key]["ports"].items():
                defaults[f"{key}.{name}"] = port
        wanted = {k: v for k, v in defaults.items() if k not in recorded}
        chosen = recorded | _choose(
            wanted, free=free, taken=set(taken or ()) | set(recorded.values())
        )
        ports = {
            "city": {"federation": chosen["city.federation"]},
            **{
                key: {"web": chosen[f"{key}.web"], "federation": chosen[f"{key}.federation"]}
                for key in ("province", "county")
            },
        }
        root.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(ports, indent=2) + "\n", encoding="utf-8")
    nodes = {
        key: Node(
            key=key,
            code=SPEC[key]["code"],
            name=SPEC[key]["name"],
            area=SPEC[key]["area"],
            level=PlatformLevel(SPEC[key]["level"]),
            data_dir=root / key,
            port=int(ports[key]["web"]),
            federation_port=int(ports[key]["federation"]),
        )
        for key in ("province", "county")
    }
    return Plan(int(ports["city"]["federation"]), nodes)
