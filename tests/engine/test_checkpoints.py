"""stylerecs.engine.checkpoints and .loading: strict loading of the real formats, clear errors,
one load per process."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from stylerecs.engine import checkpoints, loading
from stylerecs.engine.checkpoints import (
    KNOWN,
    CheckpointError,
    find_weights,
    inspect_directory,
    save_checkpoint,
    validate,
)
from stylerecs.engine.loading import load_decoder, load_encoder
from stylerecs.engine.vgg import Decoder, Encoder


class Payload:
    """Any class: unpickling it would run code, so weights_only loading refuses it."""


@pytest.fixture(autouse=True)
def empty_model_cache():
    loading.clear_cache()
    yield
    loading.clear_cache()


@pytest.fixture(scope="module")
def decoder_state(weights_dir):
    return torch.load(weights_dir / "decoder.pth", weights_only=True)


def test_community_files_load_strictly_with_their_own_tensors(weights_dir):
    encoder = load_encoder(weights_dir / "vgg_normalised.pth")
    assert isinstance(encoder, Encoder) and encoder.layout == "adain-vgg"
    on_disk = torch.load(weights_dir / "vgg_normalised.pth", weights_only=True)
    loaded = encoder.body.state_dict()
    assert loaded.keys() == on_disk.keys() and len(on_disk) == 34
    assert all(torch.equal(loaded[k], on_disk[k]) for k in on_disk)

    decoder = load_decoder(weights_dir / "decoder.pth")
    assert isinstance(decoder, Decoder) and not decoder.training
    assert not any(p.requires_grad for p in decoder.parameters())  # shared: frozen


def test_torchvision_file_loads_its_features_and_ignores_the_classifier(weights_dir):
    path = weights_dir / "vgg19-dcbb9e9d.pth"
    on_disk = torch.load(path, weights_only=True)
    assert any(k.startswith("classifier.") for k in on_disk)
    encoder = load_encoder(path)  # format sniffed from the keys
    assert encoder.layout == "torchvision-vgg19"
    for key, value in encoder.body.state_dict().items():
        assert torch.equal(value, on_disk[f"features.{key}"])


def test_wrapped_state_dict_with_format_and_meta_round_trips(weights_dir, tmp_path):
    decoder = load_decoder(weights_dir / "decoder.pth", cached=False)
    assert all(p.requires_grad for p in decoder.parameters())  # a private, trainable copy
    path = save_checkpoint(
        tmp_path / "mine.pth", decoder, format="adain-decoder", meta={"steps": 10}
    )
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"state_dict", "format", "meta"} and raw["meta"] == {"steps": 10}
    again = load_decoder(path)
    ours = decoder.state_dict()
    assert all(torch.equal(value, ours[key]) for key, value in again.state_dict().items())
    report = validate(path)
    assert report.ok and report.format == "adain-decoder" and "steps" in " ".join(report.notes)


def test_mis_shaped_key_is_named_with_both_shapes(decoder_state, tmp_path):
    bad = dict(decoder_state)
    bad["28.weight"] = torch.zeros(3, 32, 3, 3)
    torch.save(bad, tmp_path / "decoder.pth")
    with pytest.raises(CheckpointError) as info:
        load_decoder(tmp_path / "decoder.pth")
    assert "decoder.pth: key '28.weight' has shape (3, 32, 3, 3), expected (3, 64, 3, 3)" in str(
        info.value
    )
    assert isinstance(info.value, ValueError)


def test_missing_and_unexpected_keys_are_named(decoder_state, tmp_path):
    bad = {k: v for k, v in decoder_state.items() if k != "5.weight"}
    bad["99.weight"] = torch.zeros(1)
    torch.save(bad, tmp_path / "decoder.pth")
    with pytest.raises(CheckpointError) as info:
        load_decoder(tmp_path / "decoder.pth")
    assert "missing key '5.weight'" in str(info.value)
    assert "unexpected key '99.weight'" in str(info.value)
    assert info.value.problems == ["missing key '5.weight'", "unexpected key '99.weight'"]


def test_encoder_missing_its_first_conv_is_named(weights_dir, tmp_path):
    state = torch.load(weights_dir / "vgg_normalised.pth", weights_only=True)
    del state["2.weight"]
    torch.save(state, tmp_path / "vgg_normalised.pth")
    with pytest.raises(CheckpointError, match=r"vgg_normalised.pth: missing key '2.weight'"):
        load_encoder(tmp_path / "vgg_normalised.pth")


def test_random_bytes_and_foreign_pickles_are_clear_errors(tmp_path):
    junk = tmp_path / "decoder.pth"
    junk.write_bytes(b"\x00junk" + os.urandom(4096))
    with pytest.raises(CheckpointError, match="decoder.pth: not a PyTorch checkpoint"):
        load_decoder(junk)
    # A pickle holding a class instance: torch.load(weights_only=True) must refuse it.
    torch.save({"state_dict": {}, "payload": Payload()}, tmp_path / "code.pth")
    with pytest.raises(CheckpointError, match="code.pth: not a loadable weights file"):
        load_decoder(tmp_path / "code.pth")
    with pytest.raises(CheckpointError, match="file not found"):
        load_decoder(tmp_path / "absent.pth")


def test_swapped_files_say_so(weights_dir):
    with pytest.raises(CheckpointError, match="holds adain-vgg weights, not an adain-decoder"):
        load_decoder(weights_dir / "vgg_normalised.pth")
    with pytest.raises(CheckpointError, match="holds adain-decoder weights, not a VGG-19"):
        load_encoder(weights_dir / "decoder.pth")


def test_models_are_loaded_once_per_process_until_the_file_changes(weights_dir, tmp_path):
    path = shutil.copy(weights_dir / "decoder.pth", tmp_path / "decoder.pth")
    first = load_decoder(path)
    assert load_decoder(path) is first
    assert loading.cache_info()[:2] == (1, 1)
    assert load_decoder(path, dtype=torch.float64) is not first  # another dtype: another load
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # replaced on disk
    assert load_decoder(path) is not first
    assert loading.cache_info().misses == 3


def test_validate_and_inspect_directory_report_without_raising(weights_dir, tmp_path):
    assert set(find_weights(weights_dir)) == set(KNOWN)
    reports = {r.path.name: r for r in inspect_directory(weights_dir)}
    assert all(r.ok for r in reports.values()), [str(r) for r in reports.values()]
    assert reports["decoder.pth"].sha256 == checkpoints.file_sha256(weights_dir / "decoder.pth")
    assert reports["decoder.pth"].size == (weights_dir / "decoder.pth").stat().st_size
    # Named like torchvision's file, but not its bytes: said, not an error.
    assert "sha256 differs" in " ".join(reports["vgg19-dcbb9e9d.pth"].notes)

    shutil.copy(weights_dir / "decoder.pth", tmp_path / "decoder.pth")
    (tmp_path / "extra.pt").write_bytes(b"not weights")
    reports = {r.path.name: r for r in inspect_directory(tmp_path)}
    assert reports["decoder.pth"].ok
    assert not reports["vgg_normalised.pth"].ok
    assert "file not found" in reports["vgg_normalised.pth"].problems[0]
    assert not reports["extra.pt"].ok and "not a PyTorch checkpoint" in str(reports["extra.pt"])

    report = validate(weights_dir / "decoder.pth", format="adain-vgg")
    assert not report.ok and "missing key '0.weight'" in report.problems


def test_every_known_file_documents_where_it_comes_from():
    for spec in KNOWN.values():
        assert spec.source_url.startswith("https://") and spec.licence and spec.preprocessing
        assert spec.filename.endswith(".pth")
    assert KNOWN["vgg19"].format == "torchvision-vgg19"
    assert "ImageNet" in KNOWN["vgg19"].preprocessing
