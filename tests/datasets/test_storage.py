"""The storage seam: upload tokens, the hashing reader and the local backend."""

import hashlib
import io
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from centeros.errors import InvalidInput
from datasets.services import safe_filename
from datasets.storage import (
    HashingReader,
    LocalUploadBackend,
    UploadGrant,
    UploadTokenError,
    get_upload_backend,
    upload_token_read,
    upload_token_sign,
)


def grant(**changes) -> UploadGrant:
    values = {
        "dataset_id": 7,
        "key": "datasets/1/7/abc/demo.hdf5",
        "size": 48112,
        "expires_at": int(time.time()) + 60,
    }
    return UploadGrant(**(values | changes))


def test_token_round_trip():
    signed = grant()

    assert upload_token_read(upload_token_sign(signed)) == signed


def test_token_expired_is_rejected():
    token = upload_token_sign(grant(expires_at=1_000))

    with pytest.raises(UploadTokenError, match="expired"):
        upload_token_read(token)


def test_token_valid_until_expiry():
    token = upload_token_sign(grant(expires_at=2_000))

    assert upload_token_read(token, now=1_999).expires_at == 2_000
    with pytest.raises(UploadTokenError):
        upload_token_read(token, now=2_000)


def test_token_signed_with_old_key_is_accepted(settings):
    settings.SECRET_KEY = "old-key-" + "x" * 50
    token = upload_token_sign(grant())
    settings.SECRET_KEY = "new-key-" + "y" * 50
    settings.SECRET_KEY_FALLBACKS = ["old-key-" + "x" * 50]

    assert upload_token_read(token).dataset_id == 7


def test_token_signed_with_unknown_key_is_rejected(settings):
    settings.SECRET_KEY = "old-key-" + "x" * 50
    token = upload_token_sign(grant())
    settings.SECRET_KEY = "new-key-" + "y" * 50

    with pytest.raises(UploadTokenError, match="not valid"):
        upload_token_read(token)


@pytest.mark.parametrize("token", ["", "abc", "a:b:c", "." * 40])
def test_token_garbage_is_rejected(token):
    with pytest.raises(UploadTokenError):
        upload_token_read(token)


def test_hashing_reader_counts_and_hashes():
    reader = HashingReader(io.BytesIO(b"0123456789"), limit=100)

    chunks = [reader.read(4), reader.read(4), reader.read(4), reader.read(4)]

    assert chunks == [b"0123", b"4567", b"89", b""]
    assert reader.bytes_read == 10
    assert reader.sha256 == hashlib.sha256(b"0123456789").hexdigest()


def test_hashing_reader_stops_at_limit():
    reader = HashingReader(io.BytesIO(b"0123456789"), limit=6)

    assert reader.read() == b"012345"
    assert reader.read(10) == b""
    assert reader.bytes_read == 6


@pytest.mark.django_db
def test_local_backend_object_size_and_sha256():
    backend = LocalUploadBackend()
    default_storage.save("datasets/1/2/u/a.bin", ContentFile(b"abc"))

    assert backend.object_size("datasets/1/2/u/a.bin") == 3
    assert backend.object_size("datasets/1/2/u/missing.bin") is None
    assert backend.object_sha256("datasets/1/2/u/a.bin") == (
        hashlib.sha256(b"abc").hexdigest()
    )


def test_local_backend_receive_and_promote(_storage_root):
    backend = LocalUploadBackend()
    key = "datasets/1/2/u/a.bin"
    default_storage.save(key, ContentFile(b"old"))
    content = b"z" * (9 * 1024 * 1024 + 5)

    temporary = backend.receive(
        key, HashingReader(io.BytesIO(content), limit=len(content))
    )
    assert (_storage_root / key).read_bytes() == b"old"
    backend.promote(temporary, key)

    assert (_storage_root / key).read_bytes() == content
    assert not (_storage_root / temporary).exists()


def test_local_backend_delete_removes_empty_folders(_storage_root):
    backend = LocalUploadBackend()
    default_storage.save("datasets/1/2/u/a.bin", ContentFile(b"abc"))
    default_storage.save("datasets/1/3/v/b.bin", ContentFile(b"abc"))

    backend.delete("datasets/1/2/u/a.bin")
    backend.delete("datasets/1/2/u/a.bin")

    assert not (_storage_root / "datasets/1/2").exists()
    assert (_storage_root / "datasets/1/3/v/b.bin").is_file()


def test_get_upload_backend_local(settings):
    settings.CENTEROS_UPLOAD_BACKEND = "local"

    assert isinstance(get_upload_backend(), LocalUploadBackend)


def test_get_upload_backend_unknown_name(settings):
    settings.CENTEROS_UPLOAD_BACKEND = "ftp"

    with pytest.raises(ImproperlyConfigured, match="ftp"):
        get_upload_backend()


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("demo.hdf5", "demo.hdf5"),
        ("/tmp/../demo.hdf5", "demo.hdf5"),
        ("run 1 (final).mcap", "run_1_final_.mcap"),
        ("ÅRHUS-ø.bag", "ARHUS-_.bag"),
        ("...bag", "bag"),
        ("日本語.hdf5", "_.hdf5"),
        ("name.", "name"),
        ("a\x00b.hdf5", "a_b.hdf5"),
    ],
)
def test_safe_filename(filename, expected):
    assert safe_filename(filename) == expected


@pytest.mark.parametrize("filename", ["", "/", "...", "..\\..", "日本語"])
def test_safe_filename_without_usable_characters(filename):
    with pytest.raises(InvalidInput):
        safe_filename(filename)
