"""The gateway runs without TensorFlow: using it never imports tensorflow, keras or TF Serving.

Runs in a fresh interpreter, since other tests in this process import TensorFlow.
"""

import subprocess
import sys
import textwrap

from tests.support import free_port

SCRIPT = textwrap.dedent(
    """
    import asyncio
    import sys

    import httpx

    from covertype.cli import build_parser
    from gateway.app import create_app
    from gateway.observations import validate_instances
    from gateway.predictions import VersionChoice, build_request
    from gateway.settings import GatewaySettings

    build_parser().parse_args(["gateway", "--port", "1"])
    observation = {
        "Elevation": 2596, "Aspect": 51, "Slope": 3, "Horizontal_Distance_To_Hydrology": 258,
        "Vertical_Distance_To_Hydrology": 0, "Horizontal_Distance_To_Roadways": 510,
        "Hillshade_9am": 221, "Hillshade_Noon": 232, "Hillshade_3pm": 148,
        "Horizontal_Distance_To_Fire_Points": 6279, "wilderness_area": 1, "soil_type": 29,
    }
    rows = validate_instances([observation])
    assert len(build_request(rows, "covertype", VersionChoice()).SerializeToString()) > 54 * 4


    async def use_the_app() -> None:
        settings = GatewaySettings(tfserving="127.0.0.1:" + sys.argv[1], timeout_seconds=2)
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
        ):
            assert (await client.get("/openapi.json")).status_code == 200
            assert (await client.post("/v1/predict", json={"instances": [{}]})).status_code == 422
            assert (await client.post("/v1/predict", json=observation)).status_code == 503
            assert (await client.get("/readyz")).status_code == 503


    asyncio.run(use_the_app())
    heavy = sorted(
        name for name in sys.modules
        if name.split(".")[0] in {"tensorflow", "keras", "tensorflow_serving", "tf_keras"}
    )
    print("HEAVY:", heavy)
    sys.exit(1 if heavy else 0)
    """
)


def test_using_the_gateway_imports_no_tensorflow() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEAVY: []" in result.stdout
