"""The environment a component's lifecycle scripts get, built as the Greengrass nucleus builds it.

On a device the nucleus is a systemd service: its scripts inherit the service's environment (systemd's
default PATH, no virtual environment, no PYTHONPATH), then the nucleus adds HOME, the IPC variables
(`SVCUID`, `AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`, `AWS_IOT_THING_NAME`, the region, the
token exchange header) and the proxy settings (aws-greengrass-nucleus `Exec`, `ShellRunner.Default`,
`Kernel`), and the recipe's `Setenv` comes last. The local nucleus starts from the same clean slate, so a
component that leans on the developer's `.venv` or `PYTHONPATH` fails here as it would on a device.
"""

import os
from typing import Dict, Mapping, Optional

# systemd's default PATH for services (systemd.exec(5), "Environment variables in spawned processes").
SYSTEMD_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What the host may still pass on: locale and time zone (systemd gives services the system locale),
# proxies (the nucleus sets them from its own proxy configuration), and OpenBLAS's processor override,
# which some machines need for numpy not to crash (a property of the machine, not of the developer).
_PASSED_THROUGH = ("LANG", "LANGUAGE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                   "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "no_proxy", "all_proxy")


def component_environment(nucleus_variables: Mapping[str, str], setenv: Optional[Mapping[str, str]] = None,
                          host: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A lifecycle script's environment: the clean service environment, the nucleus's variables, then
    the recipe's `Setenv` (manifest-wide, then the step's own)."""
    host = os.environ if host is None else host
    env = {"PATH": SYSTEMD_DEFAULT_PATH, "HOME": host.get("HOME") or os.path.expanduser("~")}
    for name, value in host.items():
        if name in _PASSED_THROUGH or name.startswith("LC_"):
            env[name] = value
    env.update(nucleus_variables)
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = nucleus_variables.get("SVCUID", "")
    env.update(setenv or {})
    return env
