"""The llama.cpp backend against the transformers one: the same requests on the same bundled
SmolLM2 GGUF render the same prompt, count the same tokens, honour stop strings, stream what
they answer and refuse what overflows the window alike; and where llama-cpp-python is missing,
auto falls back to transformers with one line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from outweigh.engine import AskOptions, Engine
from outweigh.errors import InputError, ModelLoadError
from outweigh.generate.base import GenerationRequest
from outweigh.models.catalog import resolve
from outweigh.models.options import LoadOptions
from outweigh.prompt import build_messages

QUESTION = "Name three colours of the rainbow."
TEXTS = [
    "hello world",
    "Привет, как дела? Ünïcødé 日本語 🙂",
    "<|im_start|>user\nhi<|im_end|>\n",  # special tokens in text count as one token each
    "  leading and trailing spaces  ",
]


@pytest.fixture(scope="module")
def both(smol_backend: Any, smol_llama: Any) -> list[Any]:
    return [smol_backend, smol_llama]


def messages(question: str = QUESTION) -> list[dict[str, str]]:
    return build_messages([{"role": "user", "content": question}], [], False)


def test_same_prompt_text_and_token_counts(both: list[Any]) -> None:
    transformers, llama = both
    assert llama.render(messages()) == transformers.render(messages())
    for text in [*TEXTS, transformers.render(messages())]:
        assert llama.count_tokens(text) == transformers.count_tokens(text), text
    assert llama.count_prompt_tokens(messages()) == transformers.count_prompt_tokens(messages())


def test_a_first_token_bias_moves_the_first_token_only(both: list[Any]) -> None:
    """`first_token_bias` (how the engine sets the reader's margin for "I don't know") works
    in both backends: pushed far down, the greedy first token gives way to another; pushed
    up, a chosen token comes first; a request without it answers as before."""
    question = messages("What is the capital of France?")
    for backend in both:
        plain = backend.generate(GenerationRequest(question, max_tokens=12)).text
        first = backend.first_token(plain)
        assert first is not None
        down = GenerationRequest(question, max_tokens=12, first_token_bias={first: -100.0})
        moved = backend.generate(down).text
        assert moved and backend.first_token(moved) != first
        up = backend.first_token("Paris")
        forced = backend.generate(
            GenerationRequest(question, max_tokens=12, first_token_bias={up: 100.0})
        ).text
        assert forced.startswith("Paris")
        assert backend.generate(GenerationRequest(question, max_tokens=12)).text == plain
    # An id outside the vocabulary would be a write past llama.cpp's logits: refused first.
    with pytest.raises(InputError, match="token id is outside"):
        both[1].generate(GenerationRequest(question, max_tokens=4, first_token_bias={10**6: 1}))


def choose(backend: Any, *choices: str, bias: dict[int, float] | None = None) -> str:
    """`backend`'s answer to "What is the capital of France?" kept to `choices`, the same
    whole and streamed."""
    question = messages("What is the capital of France?")
    request = GenerationRequest(
        question, max_tokens=12, choices=choices, first_token_bias=bias or {}
    )
    text = backend.generate(request).text
    assert "".join(backend.stream(request)) == text
    return str(text)


def test_choices_keep_the_answer_to_one_of_them_whole(both: list[Any]) -> None:
    """`GenerationRequest.choices` (how a turned-down reading chooses among the values its
    passages write) in both backends: the answer is one choice, whole, the one the model ranks
    first where it is among them, another where it is not; one that is the start of another
    ends where it ends; the first token's bias still counts; whole and streamed alike."""
    for backend in both:
        assert backend.chooses
        assert choose(backend, "Berlin [1]", "Paris [2]", "Rome [3]") == "Paris [2]"
        assert choose(backend, "Berlin", "Rome") in ("Berlin", "Rome")
        assert choose(backend, "1.2", "1.2.3 [1]", "1.2 [1]") in ("1.2", "1.2.3 [1]", "1.2 [1]")
        paris = backend.first_token("Paris")
        assert choose(backend, "Paris", "Rome", bias={paris: -100.0}) == "Rome"
        # Without choices the same question answers freely, as before.
        question = messages("What is the capital of France?")
        free = backend.generate(GenerationRequest(question, max_tokens=12)).text
        assert free not in ("Berlin", "Rome")


def test_cap_and_accounting_alike(both: list[Any]) -> None:
    """A capped answer reports `length` and exactly the cap; the prompt costs the same."""
    gens = [b.generate(GenerationRequest(messages(), max_tokens=12)) for b in both]
    for g in gens:
        assert g.finish_reason == "length"
        assert g.completion_tokens == 12
        assert g.text
    assert gens[0].prompt_tokens == gens[1].prompt_tokens


def test_a_short_answer_ends_on_the_end_token_and_counts_it(both: list[Any]) -> None:
    """An answer that ends by itself: finish `stop`, and the end token counted in the
    completion, by both backends."""
    request = GenerationRequest(messages("Reply with only the word: yes"), max_tokens=40)
    for backend in both:
        g = backend.generate(request)
        assert g.finish_reason == "stop", (backend, g)
        assert g.completion_tokens == backend.count_tokens(g.text) + 1, (backend, g)


def test_stop_string_cuts_the_answer_and_the_stream_matches(both: list[Any]) -> None:
    """Each backend stops before the first stop string of its own greedy answer, and its stream
    yields the same text as its whole answer."""
    for backend in both:
        free = backend.generate(GenerationRequest(messages(), max_tokens=32)).text
        word = free.split()[3]
        request = GenerationRequest(messages(), max_tokens=32, stop=[word])
        cut = backend.generate(request)
        assert word not in cut.text
        assert free.startswith(cut.text)
        assert cut.finish_reason == "stop"
        assert cut.completion_tokens < 32
        streamed = "".join(backend.stream(request))
        assert word not in streamed
        assert streamed.strip() == cut.text


def test_the_prompt_budget_refuses_alike(both: list[Any], paths: Any) -> None:
    """A conversation over the window is refused before generation, in the same words."""
    errors = []
    for backend in both:
        engine = Engine(paths, backend=backend)
        with pytest.raises(InputError) as caught:
            engine.ask("word " * 9000, AskOptions(rag=False, max_tokens=16))
        errors.append(str(caught.value))
        engine.close()
    assert "over smollm2-135m's 8192-token window" in errors[0]
    assert errors[0] == errors[1]


def test_auto_picks_llamacpp_for_the_bundled_gguf(smol_llama: Any) -> None:
    from outweigh.generate.choose import pick_backend

    entry = resolve("smollm2-135m")
    assert pick_backend(entry, LoadOptions()) == "llamacpp"
    assert pick_backend(entry, LoadOptions(backend="transformers")) == "transformers"
    # A float precision or bitsandbytes asks for the transformers copy.
    assert pick_backend(entry, LoadOptions(dtype="bf16")) == "transformers"
    with pytest.raises(InputError, match="drop --dtype/--load-in"):
        pick_backend(entry, LoadOptions(backend="llamacpp", dtype="fp32"))


def test_closing_the_engine_ends_the_decoding_thread_it_started(
    smol_llama: Any, paths: Any
) -> None:
    """A llama.cpp thread still decoding while the interpreter finalizes aborts the process
    ("terminate called without an active exception"): `outweigh ask` and every other `with
    Engine()` stop and join it on the way out, mid-answer included. A backend the caller
    gave is the caller's, and stays open."""
    engine = Engine(paths, load=LoadOptions(backend="llamacpp", slots=2))
    backend = engine.backend()
    thread = backend.batcher._thread
    stream = backend.stream(
        GenerationRequest(
            build_messages([{"role": "user", "content": "Count from 1 to 200."}], [], False),
            max_tokens=400,
        )
    )
    next(iter(stream))  # decoding has started
    engine.close()
    assert not thread.is_alive()
    with pytest.raises(ModelLoadError, match="closed while answering"):
        list(stream)  # the reader of the cut answer is told, not left waiting
    with Engine(paths, backend=smol_llama) as given:
        assert given.backend() is smol_llama
    assert smol_llama.batcher._thread.is_alive()
    assert smol_llama.generate(
        GenerationRequest(
            build_messages([{"role": "user", "content": "Say hi."}], [], False), max_tokens=4
        )
    ).text


def test_without_llama_cpp_auto_falls_back_in_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import outweigh.generate.choose as mod

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp now fails
    monkeypatch.setattr(mod, "_told_fallback", False)
    entry = resolve("smollm2-135m")
    with caplog.at_level(logging.WARNING, logger="outweigh"):
        assert mod.pick_backend(entry, LoadOptions()) == "transformers"
        assert mod.pick_backend(entry, LoadOptions()) == "transformers"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert "llama-cpp-python is not installed" in lines[0]
    assert "\n" not in lines[0]
    assert "outweigh[llamacpp]" in lines[0]
    with pytest.raises(InputError, match=r"needs llama-cpp-python.*outweigh\[llamacpp\]"):
        mod.pick_backend(entry, LoadOptions(backend="llamacpp"))


def test_bad_backend_flag_is_one_line(cli: Any) -> None:
    result = cli("ask", "--no-rag", "--backend", "vllm", "hi")
    assert result.code != 0
    assert "unknown `--backend` 'vllm'; choose one of: auto, transformers, llamacpp" in (
        result.err + result.out
    )
    assert "Traceback" not in result.err


def test_llamacpp_refuses_a_transformers_dir(smol: Any, tmp_path: Any) -> None:
    """A plain HF directory has no GGUF to hand llama.cpp."""
    from outweigh.generate.choose import pick_backend

    smol.model.config.save_pretrained(tmp_path)
    entry = resolve(str(tmp_path))
    with pytest.raises(InputError, match="runs GGUF models"):
        pick_backend(entry, LoadOptions(backend="llamacpp"))
    assert pick_backend(entry, LoadOptions()) == "transformers"


def test_smollm2_runs_on_the_cpu_as_a_q8_0_copy_made_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its Q4_1 file has no fast CPU kernel: llama.cpp requantizes it once to Q8_0, beside the
    converted models, and every later load reuses the copy."""
    pytest.importorskip("llama_cpp")
    from gguf import GGUFReader

    from outweigh.generate.quantize import cpu_gguf
    from outweigh.models.loader import gguf_file
    from outweigh.settings import Paths

    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(tmp_path / "models"))
    paths = Paths(tmp_path)
    entry = resolve("smollm2-135m")
    copy = cpu_gguf(entry, paths)
    assert copy.parent == tmp_path / "models" and copy != gguf_file(entry.name, paths)
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary left
    kind = GGUFReader(copy).fields["general.file_type"]
    assert int(kind.parts[kind.data[0]][0]) == 7  # LLAMA_FTYPE_MOSTLY_Q8_0
    made = copy.stat().st_mtime_ns
    assert cpu_gguf(entry, paths) == copy and copy.stat().st_mtime_ns == made
    # Gemma's Q4_K_M has fast kernels: it runs as it ships.
    gemma = resolve("gemma3-270m")
    assert cpu_gguf(gemma, Paths(tmp_path / "g")) == gguf_file(gemma.name, Paths(tmp_path / "g"))


def test_an_unwritable_models_dir_is_one_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    from outweigh.errors import ModelLoadError
    from outweigh.generate.quantize import cpu_gguf
    from outweigh.settings import Paths

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(tmp_path / "file" / "models"))
    with pytest.raises(ModelLoadError, match=r"OUTWEIGH_MODELS_DIR at a writable folder") as e:
        cpu_gguf(resolve("smollm2-135m"), Paths(tmp_path))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "1000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, None), ({"GOMP_SPINCOUNT": "5"}, "5")],
)
def test_openmp_threads_spin_briefly_unless_the_user_chose(env, expected):
    # torch and llama.cpp share one OpenMP runtime, which reads the policy once, when it loads;
    # `import outweigh` comes first in every outweigh process.
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    probe = "import os, outweigh; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=base | env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(expected)
