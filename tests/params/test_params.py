from pathlib import Path

import pytest

from doit_study.core.files import DataError
from doit_study.params.annotate import AnnotateParams
from doit_study.params.base import line_of, read_group
from doit_study.params.data import DataParams
from doit_study.params.mixes import MixesParams
from doit_study.params.study import load_params
from doit_study.params.train import TrainParams
from tests.helpers import REPO

PROFILES = [REPO / "params.yaml", *sorted((REPO / "profiles").glob("*.yaml"))]


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_profile_validates(path):
    params = load_params(path)
    assert params.annotate.targets
    assert set(params.expand.pool) <= set(params.annotate.targets)


def test_profiles_are_the_expected_ones():
    assert {p.name for p in PROFILES} == {
        "params.yaml",
        "smoke.yaml",
        "smoke-release.yaml",
        "paper.yaml",
        "flan.yaml",
        "smoke-flan.yaml",
        "limit.yaml",
        "smoke-limit.yaml",
    }
    paper = load_params(REPO / "profiles/paper.yaml")
    assert paper.data.source == "doit" and len(paper.data.doit.revision) == 40
    assert paper.expand.n_per_ability == [1, 4, 16, 64, 256, 1000]
    for name, design in (
        ("flan", "flan"),
        ("smoke-flan", "flan"),
        ("limit", "limit"),
        ("smoke-limit", "limit"),
    ):
        assert load_params(REPO / f"profiles/{name}.yaml").analysis.design == design


def test_unknown_key_names_file_line_and_field(tmp_path: Path):
    text = (
        (REPO / "profiles/smoke.yaml")
        .read_text(encoding="utf-8")
        .replace("  valid_size: 10", "  valid_sise: 10")
    )
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_group(bad, AnnotateParams)
    assert error.value.field == "annotate.valid_sise"
    assert error.value.line == text.splitlines().index("  valid_sise: 10") + 1
    assert "Extra inputs are not permitted" in str(error.value)


def test_unknown_ability_in_params_is_rejected(tmp_path: Path):
    text = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8").replace("ethics: 60}", "ethic: 60}")
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="unknown ability 'ethic'"):
        load_params(bad)


def test_min_epoch_beyond_training_is_rejected(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    text = smoke.replace("  min_epoch: 1", "  min_epoch: 3")
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"min_epoch: larger than train\.optim\.epochs"):
        load_params(bad)


def test_a_mix_baseline_without_its_setting_is_rejected(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    bad.write_text(smoke.replace("  baseline: curated-n4", "  baseline: curated-n16"), encoding="utf-8")
    with pytest.raises(
        DataError, match=r"mixes\.baseline: no setting in train\.settings trains curated-n16 at s"
    ):
        load_params(bad)
    bad.write_text(
        smoke.replace("  size: s                 # the size", "  size: xl  # the size"), encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"mixes\.size: 'xl' is not one of foundation\.sizes"):
        load_params(bad)


def test_lora_with_fsdp_sharding_is_rejected(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    lora = "  lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}"
    text = smoke.replace("  lora: null", lora).replace("  sharding: none", "  sharding: fsdp")
    assert text.count(lora) == 1 and text.count("sharding: fsdp") == 1
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="sharding: fsdp shards full fine-tuning; with lora set") as error:
        read_group(bad, TrainParams)
    assert error.value.path == str(bad) and error.value.field == "train.sharding"
    line = next(k for k, row in enumerate(text.splitlines(), 1) if row.startswith("  sharding: fsdp"))
    assert error.value.line == line


def test_two_settings_of_the_same_seed_and_a_baseline_without_its_seed_are_refused(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    bad.write_text(
        smoke.replace("{size: s, subset: curated-n4, seed: 1}", "{size: s, subset: curated-n4, seed: 0}")
    )
    with pytest.raises(DataError, match="the same size, subset and seed as s-curated-n4") as error:
        read_group(bad, TrainParams)
    assert error.value.field == "train.settings.s-curated-n4-seed1"
    bad.write_text(
        smoke.replace("  seed: 0                 # the mixes", "  seed: 7                 # the mixes")
    )
    read_group(bad, MixesParams)  # the group alone is valid: the check across groups refuses it
    with pytest.raises(DataError, match=r"with seed 7 \(mixes.seed\)"):
        load_params(bad)


def test_a_setting_on_a_subset_expand_never_writes_is_refused_by_the_check(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    text = smoke.replace(
        "s-only-math-n16: {size: s, subset: only-math-n16, seed: 0}",
        "s-only-math-n16: {size: s, subset: only-math-n64, seed: 0}",
    )
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="expand writes no subset 'only-math-n64'") as error:
        load_params(bad)  # `python -m doit_study check`, before dvc repro
    assert error.value.field == "train.settings.s-only-math-n16.subset"
    assert (
        error.value.line
        == text.splitlines().index("    s-only-math-n16: {size: s, subset: only-math-n64, seed: 0}") + 1
    )
    assert read_group(bad, DataParams).source == "builtin"  # a stage reads only its own groups


def test_an_error_in_a_nested_key_names_its_own_line(tmp_path: Path):
    """`mixes.baseline` is the mixes group's key, not `expand.mixes.baseline`, which comes first."""
    text = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert (
        line_of(REPO / "profiles/smoke.yaml", "mixes.baseline")
        == lines.index(next(row for row in lines if row.startswith("  baseline: curated-n4"))) + 1
    )
    expand = line_of(REPO / "profiles/smoke.yaml", "expand.mixes.baseline")
    group = next(k for k, row in enumerate(lines, 1) if row.startswith("mixes:"))
    assert lines[expand - 1] == "    baseline:" and expand < group
    bad = tmp_path / "params.yaml"
    bad.write_text(text.replace("  floor: ", "  floor: -", 1), encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_group(bad, MixesParams)
    assert error.value.field == "mixes.floor"
    assert bad.read_text().splitlines()[error.value.line - 1].startswith("  floor: -")


def test_no_params_model_has_a_default():
    """Every key DVC tracks comes from the params file: a missing one is an error naming it."""
    import importlib

    from pydantic import BaseModel

    modules = [
        importlib.import_module(f"doit_study.params.{p.stem}")
        for p in (REPO / "src/doit_study/params").glob("*.py")
    ]
    models = {
        m
        for module in modules
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel)
    }
    defaults = [f"{m.__name__}.{n}" for m in models for n, f in m.model_fields.items() if not f.is_required()]
    assert defaults == []
