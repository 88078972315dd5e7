"""``centeros agent``: run one or more simulated robots against a server."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from centeros.agent.robot import AgentConfig, SimulatedRobot

logger = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")


def _parse_fault(value: str) -> dict:
    code, _, rest = value.partition(":")
    severity, _, message = rest.partition(":")
    if not code or severity not in SEVERITIES:
        raise click.BadParameter(
            f"{value!r} is not CODE:SEVERITY[:MESSAGE] with a severity of "
            f"{', '.join(SEVERITIES)}; for example E_MOTOR_TEMP:warning.",
            param_hint="--fault",
        )
    return {"code": code, "severity": severity, "message": message}


@click.command(name="agent")
@click.option(
    "--api-url",
    envvar="CENTEROS_API_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of the CenterOS server.",
)
@click.option(
    "--token",
    "tokens",
    envvar="CENTEROS_ROBOT_TOKEN",
    multiple=True,
    required=True,
    help="Robot token (frr_...) from register_robot. Repeat it to run several "
    "robots in this process; CENTEROS_ROBOT_TOKEN may hold several, separated "
    "by spaces.",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between heartbeats.",
)
@click.option(
    "--wait",
    type=click.IntRange(min=1, max=30),
    default=25,
    show_default=True,
    help="Seconds each long poll of the command channel may wait.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="Report a fault in every heartbeat, as CODE:SEVERITY[:MESSAGE] "
    "(severity info, warning or critical). Repeatable.",
)
@click.option(
    "--idle/--busy",
    default=True,
    show_default=True,
    help="Report the robot idle (on_idle deployments are delivered) or busy "
    "(it moves and on_idle deployments wait).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("centeros-agent"),
    show_default=True,
    help="Folder where downloaded model artifacts are kept.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=0,
    help="Stop after this many seconds; 0 runs until interrupted.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
)
def agent(
    api_url,
    tokens,
    heartbeat_interval,
    wait,
    faults,
    idle,
    work_dir,
    duration,
    log_level,
):
    """Run a simulated robot that speaks the agent protocol.

    It sends heartbeats, receives commands on the long-poll channel, stops
    its simulated motion on an emergency stop, resumes on a release, and
    downloads, verifies and acknowledges model deployments.
    """
    # force=True: under `centeros agent` the CLI has already set up logging,
    # and the agent's own --log-level and format must still apply.
    logging.basicConfig(
        level=log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # httpx logs every request URL at INFO, and a signed artifact URL is a
    # credential that must stay out of logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The environment variable may list several tokens in one string.
    tokens = [token for value in tokens for token in value.split()]
    parsed_faults = [_parse_fault(value) for value in faults]

    robots = []
    for index, token in enumerate(tokens):
        config = AgentConfig(
            api_url=api_url,
            token=token,
            heartbeat_interval=heartbeat_interval,
            wait=wait,
            faults=parsed_faults,
            idle=idle,
            work_dir=work_dir,
        )
        robots.append(SimulatedRobot(config, name=f"robot-{index + 1}"))

    finished = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: finished.set())
    for robot in robots:
        robot.start()
    try:
        finished.wait(duration or None)
    except KeyboardInterrupt:
        pass
    finally:
        for robot in robots:
            robot.stop()
