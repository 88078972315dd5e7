"""CLI input errors that are caught before any request is sent."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "params_json", ['{"limit": NaN}', '{"limit": 1e999}', "[" * 5000 + "]" * 5000]
)
def test_bad_params_json_is_usage_error(params_json):
    result = subprocess.run(
        [sys.executable, "-m", "centeros.cli.main", "run", "list_robots"]
        + ["--params-json", params_json],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CENTEROS_API_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--params-json" in result.stderr
