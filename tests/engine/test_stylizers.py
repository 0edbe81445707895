"""stylerecs.engine.stylizers: the registry of named backends."""

from __future__ import annotations

import textwrap

import pytest
import torch

from stylerecs.engine import stylizers
from stylerecs.engine.stylizers import (
    StyleState,
    Stylizer,
    UnknownStylizer,
    WeightsMissing,
    available,
    configure,
    get_stylizer,
    get_stylizer_class,
    register,
)
from stylerecs.engine.stylizers.classic import ClassicStylizer


class InvertStylizer(Stylizer):
    """A tiny real backend: blends each image toward its negative."""

    name = "invert"

    def __init__(self, *, device=None, strength: float = 1.0, **options) -> None:
        super().__init__(device=device, **options)
        self.strength = strength

    def prepare_style(self, image: torch.Tensor) -> StyleState:
        return StyleState(method=self.name, tensors={"mean": image.mean(dim=(1, 2))})

    def stylize(self, batch, style_state, *, alpha=1.0, preserve_color=False):
        alpha = self.check_alpha(alpha) * self.strength
        return torch.lerp(batch, 1.0 - batch, alpha)


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test starts from the built-ins only, and leaves nothing behind."""
    configure(extra=None)
    stylizers._registered.clear()
    yield
    configure(extra=None)
    stylizers._registered.clear()


def test_classic_is_built_in():
    assert available()["classic"] == "stylerecs.engine.stylizers.classic.ClassicStylizer"
    assert get_stylizer_class("classic") is ClassicStylizer


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(UnknownStylizer) as info:
        get_stylizer_class("picasso")
    assert isinstance(info.value, KeyError)
    known = "adain, classic, gatys, texture"
    assert str(info.value) == f"unknown stylizer 'picasso'; available: {known}"


def test_register_class_and_dotted_path():
    register("invert", InvertStylizer)
    assert available()["invert"] == f"{__name__}.InvertStylizer"
    register("also-classic", "stylerecs.engine.stylizers.classic.ClassicStylizer")
    assert get_stylizer_class("also-classic") is ClassicStylizer
    out = get_stylizer("invert", device="cpu").stylize(torch.zeros(1, 3, 2, 2), None)
    assert torch.equal(out, torch.ones(1, 3, 2, 2))


def test_configure_extra_adds_and_overrides_names():
    configure(extra={"inv": f"{__name__}.InvertStylizer"})
    assert get_stylizer_class("inv") is InvertStylizer
    configure(extra={"classic": f"{__name__}.InvertStylizer"})  # host overrides built-in
    assert get_stylizer_class("classic") is InvertStylizer
    configure(extra=None)
    assert get_stylizer_class("classic") is ClassicStylizer


def test_entry_point_group_is_discovered(tmp_path, monkeypatch):
    # A real installed-distribution layout: a module and its .dist-info on sys.path.
    (tmp_path / "ep_backend.py").write_text(
        textwrap.dedent(
            """
            import torch
            from stylerecs.engine.stylizers import StyleState, Stylizer

            class GreyStylizer(Stylizer):
                name = "grey"

                def prepare_style(self, image):
                    return StyleState(method=self.name, tensors={})

                def stylize(self, batch, style_state, *, alpha=1.0, preserve_color=False):
                    grey = batch.mean(dim=1, keepdim=True).expand_as(batch)
                    return torch.lerp(batch, grey, self.check_alpha(alpha))
            """
        )
    )
    dist = tmp_path / "ep_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[stylerecs.stylizers]\ngrey = ep_backend:GreyStylizer\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    configure()  # re-read entry points
    assert available()["grey"] == "ep_backend:GreyStylizer"
    stylizer = get_stylizer("grey", device="cpu")
    out = stylizer.stylize(torch.tensor([[[[1.0]], [[0.0]], [[0.5]]]]), None)
    assert torch.allclose(out, torch.full((1, 3, 1, 1), 0.5))


def test_get_stylizer_caches_per_name_device_and_options():
    register("invert", InvertStylizer)
    a = get_stylizer("invert", device="cpu")
    assert get_stylizer("invert", device=torch.device("cpu")) is a
    assert get_stylizer("invert") is a or torch.cuda.is_available()
    b = get_stylizer("invert", device="cpu", strength=0.5)
    assert b is not a and b.strength == 0.5
    assert get_stylizer("invert", device="cpu", strength=0.5) is b
    stylizers.clear_cache()
    assert get_stylizer("invert", device="cpu") is not a


def test_non_stylizer_or_missing_targets_are_clear_errors():
    register("bad", "collections.OrderedDict")
    with pytest.raises(TypeError, match="not a Stylizer subclass"):
        get_stylizer_class("bad")
    register("gone", "no_such_module.Thing")
    with pytest.raises(ImportError, match="cannot import 'no_such_module.Thing'"):
        get_stylizer_class("gone")


def test_unknown_option_fails_loudly():
    with pytest.raises(TypeError, match="unknown option"):
        get_stylizer("classic", device="cpu", levles=3)


def test_weights_missing_names_the_file_and_setting_and_pickles():
    import pickle

    err = WeightsMissing(
        "adain",
        "/models/decoder.pth",
        setting="STYLERECS['WEIGHTS_DIR']",
        hint="run manage.py stylerecs_fetch_weights",
    )
    assert "/models/decoder.pth" in str(err) and "STYLERECS['WEIGHTS_DIR']" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.path == "/models/decoder.pth"


def test_base_class_validates_alpha():
    assert Stylizer.check_alpha(0) == 0.0 and Stylizer.check_alpha(1) == 1.0
    with pytest.raises(ValueError):
        Stylizer.check_alpha(1.01)
