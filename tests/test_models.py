import pytest

from outweigh.errors import NotFoundError
from outweigh.generate import GenerationRequest
from outweigh.generate.local import LocalBackend
from outweigh.models import catalog, is_converted, resolve
from outweigh.settings import Paths


def test_catalog_is_data_and_names_resolve():
    names = set(catalog())
    assert {"smollm2-135m", "gemma3-270m"} <= names
    assert resolve("smollm2-135m").chat and not resolve("gemma3-270m").chat
    assert resolve("Qwen/Qwen2.5-0.5B-Instruct").kind == "hub"


def test_unknown_model_names_the_choices(tmp_path):
    with pytest.raises(NotFoundError, match="choose one of: gemma3-270m, smollm2-135m"):
        resolve("gpt-7")
    with pytest.raises(NotFoundError, match="without config.json"):
        resolve(str(tmp_path))


def test_a_local_hf_dir_goes_through_the_same_loader(smol):
    entry = resolve(smol.model.name_or_path)
    assert entry.kind == "hf-dir" and entry.chat


def test_conversion_is_cached_and_a_crashed_one_is_redone(smol, tmp_path, monkeypatch):
    assert is_converted("smollm2-135m")
    cache = Paths().models_dir / "smollm2-135m"
    assert (cache / "model.safetensors").is_file()
    assert not list(cache.parent.glob("*.partial"))
    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(tmp_path))
    (tmp_path / "smollm2-135m").mkdir()  # a conversion killed before it finished
    assert not is_converted("smollm2-135m")


@pytest.mark.slow
def test_the_bigger_base_model_loads_and_answers_in_qa_format(gemma):
    backend = LocalBackend(gemma)
    assert gemma.model.num_parameters() > 2 * 134_000_000
    prompt = backend.render([{"role": "user", "content": "Question: What is 2 + 2?"}])
    assert prompt.endswith("\nAnswer:")
    out = backend.generate(
        GenerationRequest(
            [{"role": "user", "content": "Question: What is the capital of France?"}], max_tokens=12
        )
    )
    assert "Paris" in out.text and "Question:" not in out.text
