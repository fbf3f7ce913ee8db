"""MOTCUA_STORAGE and MOTCUA_S3_*: read and checked at start-up, the secret kept out of logs."""

from __future__ import annotations

import io
import logging
from dataclasses import replace

import pytest

from motcua.core.logging import configure_logging
from motcua.core.settings import S3Bucket, Settings, SettingsError, load_settings

S3 = {
    "MOTCUA_STORAGE": "s3",
    "MOTCUA_S3_ENDPOINT_URL": "https://s3.example.vn/",
    "MOTCUA_S3_BUCKET": "motcua-files",
    "MOTCUA_S3_REGION": "ap-southeast-1",
    "MOTCUA_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "MOTCUA_S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def test_the_filesystem_is_the_default_and_s3_is_read_from_its_variables() -> None:
    default = load_settings({"MOTCUA_SECRET_KEY": "k" * 40})
    assert default.storage == "filesystem" and default.s3 is None
    settings = load_settings({"MOTCUA_SECRET_KEY": "k" * 40, **S3})
    assert settings.storage == "s3"
    assert settings.s3 == S3Bucket(
        bucket="motcua-files",
        region="ap-southeast-1",
        endpoint_url="https://s3.example.vn",
        access_key_id="AKIAEXAMPLE",
        secret_access_key=S3["MOTCUA_S3_SECRET_ACCESS_KEY"],
    )
    assert S3["MOTCUA_S3_SECRET_ACCESS_KEY"] not in repr(settings)
    # No endpoint: AWS itself; no keys: the environment's own credentials (a pod role).
    bare = load_settings(
        {"MOTCUA_SECRET_KEY": "k" * 40, "MOTCUA_STORAGE": "s3", "MOTCUA_S3_BUCKET": "b.files"}
    )
    assert bare.s3 == S3Bucket(bucket="b.files")
    # The bucket is read while the filesystem is in use, for `motcua storage move --to s3`.
    staged = load_settings({"MOTCUA_SECRET_KEY": "k" * 40, **S3, "MOTCUA_STORAGE": "filesystem"})
    assert staged.storage == "filesystem" and staged.s3 is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MOTCUA_STORAGE": "nfs"}, "MOTCUA_STORAGE: must be filesystem or s3, got 'nfs'"),
        ({"MOTCUA_S3_BUCKET": ""}, "MOTCUA_S3_BUCKET: required when MOTCUA_STORAGE=s3"),
        (
            {"MOTCUA_STORAGE": "filesystem", "MOTCUA_S3_BUCKET": ""},
            "MOTCUA_S3_ENDPOINT_URL: set, but MOTCUA_S3_BUCKET is not",
        ),
        ({"MOTCUA_S3_BUCKET": "Motcua_Files"}, "MOTCUA_S3_BUCKET: not a valid bucket name"),
        ({"MOTCUA_S3_BUCKET": "ab"}, "MOTCUA_S3_BUCKET: not a valid bucket name"),
        ({"MOTCUA_S3_REGION": "Hà Nội"}, "MOTCUA_S3_REGION: not a region name"),
        ({"MOTCUA_S3_ENDPOINT_URL": "s3.example.vn"}, "MOTCUA_S3_ENDPOINT_URL: must be an http(s):// URL"),
        (
            {"MOTCUA_S3_ENDPOINT_URL": "https://s3.example.vn:99999"},
            "MOTCUA_S3_ENDPOINT_URL: not a valid URL",
        ),
        (
            {"MOTCUA_S3_ENDPOINT_URL": "https://key:hush-hush@s3.example.vn"},
            "MOTCUA_S3_ENDPOINT_URL: only scheme, host, port and path",
        ),
        ({"MOTCUA_S3_SECRET_ACCESS_KEY": ""}, "set both, or neither"),
        ({"MOTCUA_S3_ACCESS_KEY_ID": ""}, "set both, or neither"),
    ],
)
def test_a_wrong_storage_setting_names_the_variable(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MOTCUA_SECRET_KEY": "k" * 40, **S3, **changes})
    assert message in str(caught.value)
    assert "hush-hush" not in str(caught.value) and S3["MOTCUA_S3_SECRET_ACCESS_KEY"] not in str(caught.value)


def test_the_secret_access_key_is_redacted_from_logs(live_settings: Settings) -> None:
    settings = replace(
        live_settings, s3=S3Bucket(bucket="b-files", secret_access_key="s3cr3t-access-key-xyz")
    )
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        configure_logging(settings)
        logging.getLogger("motcua.test").warning("signing with %s", "s3cr3t-access-key-xyz")
    finally:
        root.removeHandler(handler)
    assert "signing with ***" in stream.getvalue()
    assert "s3cr3t-access-key-xyz" not in stream.getvalue()
