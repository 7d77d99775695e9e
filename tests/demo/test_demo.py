"""`covertype demo` (what `make demo` runs) end to end: train, serve, answer, stop."""

import subprocess
import sys
from pathlib import Path

from tests.support import free_port


def test_demo_trains_serves_and_answers_through_both_interfaces(
    train_csv: Path, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    command = [
        sys.executable,
        "-m",
        "covertype.cli",
        "demo",
        f"--data={train_csv}",
        f"--models-dir={models_dir}",
        "--sample=3000",
        "--epochs=1",
        f"--grpc-port={free_port()}",
        f"--rest-port={free_port()}",
        f"--gateway-port={free_port()}",
        "--serve-seconds=1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=480)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (models_dir / "covertype" / "1" / "saved_model.pb").is_file()
    assert '"model_version": 1' in result.stdout
    assert "PredictionService/Predict" in result.stdout
    assert "model_spec: name=covertype version=1" in result.stdout
    assert "using a stratified sample of 3,000 rows" in result.stdout
