"""stylerecs.engine.embeddings: product embeddings for scoring, with and without weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylerecs.engine import checkpoints, loading
from stylerecs.engine.embeddings import (
    CLASSIC_VERSION,
    embed,
    embed_bytes,
    embedding_dim,
)
from stylerecs.engine.tensors import pil_to_tensor

PHOTOS = ("coffee", "chelsea", "astronaut", "brick")


@pytest.fixture(scope="module", params=["classic", "vgg"])
def encoder(request, weights_dir):
    """None (classicstats) or the path of random VGG-19 weights (vggstats)."""
    return None if request.param == "classic" else weights_dir / "vgg_normalised.pth"


@pytest.fixture(scope="module")
def photos(photo) -> list[Image.Image]:
    return [photo(name, 96) for name in PHOTOS]


def test_vectors_are_unit_float32_of_the_versions_fixed_dimension(encoder, photos):
    result = embed(photos, encoder=encoder, device="cpu")
    assert result.vectors.dtype == torch.float32 and result.vectors.device.type == "cpu"
    assert result.vectors.shape == (len(photos), embedding_dim(result.model_version))
    torch.testing.assert_close(result.vectors.norm(dim=1), torch.ones(len(photos)))
    # Another size and aspect: same dimension.
    other = embed([photos[0].resize((37, 200))], encoder=encoder, device="cpu")
    assert other.dim == result.dim and other.model_version == result.model_version


def test_model_versions_name_the_method_and_the_encoder_file(encoder, photos, weights_dir):
    version = embed(photos[:1], encoder=encoder, device="cpu").model_version
    if encoder is None:
        assert version == CLASSIC_VERSION and embedding_dim(version) == 86
    else:
        sha = checkpoints.file_sha256(encoder)
        assert version == f"vggstats-v1-{sha[:12]}" and embedding_dim(version) == 1920
        other = embed(photos[:1], encoder=weights_dir / "vgg19-dcbb9e9d.pth", device="cpu")
        assert other.model_version != version  # other weights: not comparable


def test_same_image_gives_the_same_vector(encoder, photos):
    first = embed(photos[:1], encoder=encoder, device="cpu").vectors
    again = embed(photos[:1], encoder=encoder, device="cpu").vectors
    assert torch.equal(first, again)
    # A tensor batch and a list of images of that same size agree (up to rounding).
    as_tensor = embed(pil_to_tensor(photos[0]).unsqueeze(0), encoder=encoder, device="cpu")
    torch.testing.assert_close(as_tensor.vectors, first, atol=1e-5, rtol=0)


def test_a_resized_copy_is_closer_than_any_other_photo(encoder, photos):
    resized = [img.resize((img.width * 2 // 3, img.height * 2 // 3)) for img in photos]
    vectors = embed(photos + resized, encoder=encoder, device="cpu").vectors
    originals, copies = vectors[: len(photos)], vectors[len(photos) :]
    similarity = originals @ copies.T
    for i in range(len(photos)):
        others = torch.cat((similarity[i, :i], similarity[i, i + 1 :]))
        assert similarity[i, i] > others.max(), (PHOTOS[i], similarity[i])


def test_mixed_sizes_keep_input_order(encoder, photos):
    mixed = [photos[0], photos[1].resize((50, 90)), photos[2]]
    together = embed(mixed, encoder=encoder, device="cpu").vectors
    for i, img in enumerate(mixed):
        alone = embed([img], encoder=encoder, device="cpu").vectors[0]
        torch.testing.assert_close(together[i], alone, atol=1e-5, rtol=0)


def test_an_encoder_object_works_without_a_file(weights_dir, photos):
    model = loading.load_encoder(weights_dir / "vgg_normalised.pth", cached=False)
    result = embed(photos[:2], encoder=model)
    by_file = embed(photos[:2], encoder=weights_dir / "vgg_normalised.pth", device="cpu")
    torch.testing.assert_close(result.vectors, by_file.vectors, atol=1e-5, rtol=0)
    assert result.model_version.startswith("vggstats-v1-")
    assert embed(photos[:1], encoder=model).model_version == result.model_version


def test_embed_bytes_gives_none_and_the_reason_for_undecodable_inputs(photos, to_bytes):
    contents = [to_bytes(photos[0]), b"definitely not an image", to_bytes(photos[3], "PNG")]
    result = embed_bytes(contents)  # decoded in a child process, as the worker does
    assert result.model_version == CLASSIC_VERSION and result.dim == 86
    assert result.vectors[1] is None and "not an image" in result.errors[1]
    assert result.errors[0] == result.errors[2] == ""
    for vector in (result.vectors[0], result.vectors[2]):
        assert vector.shape == (86,) and vector.dtype == torch.float32
    # The worker stores vectors as float32 bytes with their dimension.
    blob = result.vectors[0].numpy().tobytes()
    assert np.frombuffer(blob, dtype=np.float32).shape == (86,)


def test_embed_bytes_with_missing_weights_is_a_configuration_error(photos, to_bytes, tmp_path):
    with pytest.raises(FileNotFoundError):
        embed_bytes([to_bytes(photos[0])], encoder_weights=tmp_path / "nope.pth")


def test_unknown_versions_have_no_dimension():
    with pytest.raises(ValueError):
        embedding_dim("mystery-v9")


def test_cli_prints_dimension_and_version_and_writes_npy(tmp_path, photos, capsys):
    from stylerecs.engine.__main__ import main

    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    photos[0].save(good)
    bad.write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "vectors.npy"
    assert main(["embed", "--images", str(good), str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "1 vector(s) of dim 86, model version classicstats-v1" in captured.out
    assert f"error: {bad}" in captured.err
    rows = np.load(out)
    assert rows.shape == (2, 86) and np.isfinite(rows[0]).all() and np.isnan(rows[1]).all()
