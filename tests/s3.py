"""A local S3-compatible server for the tests (moto's, in a thread of the test process), as the
Stripe and e-ID stand-ins are: the S3 storage backend talks real HTTP to it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from moto.server import ThreadedMotoServer

from motcua.core.settings import S3Bucket

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-access-key-" + "s" * 20


@dataclass
class S3Stand:
    server: ThreadedMotoServer
    endpoint_url: str

    @classmethod
    def start(cls) -> S3Stand:
        # One access line per request is noise in a failing test's output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return cls(server, f"http://{host}:{port}")

    def stop(self) -> None:
        self.server.stop()

    def bucket(self) -> S3Bucket:
        """A new, empty bucket: each test module gets its own."""
        bucket = S3Bucket(
            bucket=f"motcua-{uuid.uuid4().hex[:12]}",
            region="us-east-1",
            endpoint_url=self.endpoint_url,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
        )
        self.client(bucket).create_bucket(Bucket=bucket.bucket)
        return bucket

    def client(self, bucket: S3Bucket) -> S3Client:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=bucket.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )


def s3_env(bucket: S3Bucket, *, backend: str = "s3") -> dict[str, str]:
    """The settings that point a process at ``bucket``."""
    return {
        "MOTCUA_STORAGE": backend,
        "MOTCUA_S3_ENDPOINT_URL": bucket.endpoint_url or "",
        "MOTCUA_S3_BUCKET": bucket.bucket,
        "MOTCUA_S3_REGION": bucket.region,
        "MOTCUA_S3_ACCESS_KEY_ID": bucket.access_key_id or "",
        "MOTCUA_S3_SECRET_ACCESS_KEY": bucket.secret_access_key or "",
    }
