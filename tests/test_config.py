from pathlib import Path

import pytest

from doit_study.config import load_group, load_params
from doit_study.io import DataError
from tests.conftest import REPO

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
        load_group(bad, "annotate")
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
        load_group(bad, "train")
    assert error.value.path == str(bad) and error.value.field == "train.sharding"
    line = next(k for k, row in enumerate(text.splitlines(), 1) if row.startswith("  sharding: fsdp"))
    assert error.value.line == line


def test_two_settings_of_the_same_seed_and_a_baseline_without_its_seed_are_refused(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    bad.write_text(
        smoke.replace("{size: s, subset: curated-n4, seed: 1}", "{size: s, subset: curated-n4, seed: 0}")
    )
    with pytest.raises(DataError, match="the same size, subset and seed as s-curated-n4"):
        load_group(bad, "train")
    bad.write_text(
        smoke.replace("  seed: 0                 # the mixes", "  seed: 7                 # the mixes")
    )
    with pytest.raises(DataError, match=r"with seed 7 \(mixes.seed\)"):
        load_group(bad, "mixes")


def test_a_setting_on_a_subset_expand_never_writes_stops_the_first_stage(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    text = smoke.replace(
        "s-only-math-n16: {size: s, subset: only-math-n16, seed: 0}",
        "s-only-math-n16: {size: s, subset: only-math-n64, seed: 0}",
    )
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="expand writes no subset 'only-math-n64'") as error:
        load_group(bad, "data")  # the raw stage reads only `data`, and still stops
    assert error.value.field == "train.settings.s-only-math-n16.subset"


def test_no_params_model_has_a_default():
    """Every key DVC tracks comes from the params file: a missing one is an error naming it."""
    from pydantic import BaseModel

    from doit_study import config

    models = [m for m in vars(config).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    defaults = [f"{m.__name__}.{n}" for m in models for n, f in m.model_fields.items() if not f.is_required()]
    assert defaults == []
