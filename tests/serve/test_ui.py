"""The web page at `/`, driven in headless Chromium (Debian's `chromium`) through Playwright.

One browser per module. The chat round trip runs the real SmolLM2 (with a registered adapter
on it); the rest run EchoBackend, since they are about the page, not the model. Every page
has the network outside loopback cut off, and a test fails if the page even tried to reach it.
With OUTWEIGH_UI_SHOTS=DIR set, the tests save the screenshots docs/ui.md shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from outweigh.adapters import AdapterRegistry
from outweigh.engine import AskOptions, Engine
from outweigh.generate.local import LocalBackend
from outweigh.plan import PlanSpec, plan
from outweigh.serve import ServeSettings
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.serve.conftest import KEY, SUITE_DOCS, Live, register_adapter, start

CHROMIUM = os.environ.get("OUTWEIGH_CHROMIUM") or shutil.which("chromium")
if not CHROMIUM:
    pytest.skip(
        "chromium is not installed (apt-get install chromium, which `make test` runs as root)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
expect = sync_api.expect

ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--no-first-run",
    # Offline: without these, Chromium's own background fetches are refused many at a time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("OUTWEIGH_UI_SHOTS")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
FACT = "# Lighthouse\n\nThe Brindle lighthouse keeper is named Ottoline Farrow.\n"


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    """Open the page of a live server in a fresh context (fresh sessionStorage). Requests to
    any host but loopback are aborted and recorded; an uncaught page error fails the test."""
    contexts, outside, errors = [], [], []

    def open_(live: Live, path: str = "/", bypass_csp: bool = False):
        context = browser.new_context(
            viewport={"width": 1100, "height": 760}, bypass_csp=bypass_csp
        )
        contexts.append(context)

        def guard(route) -> None:
            if urlsplit(route.request.url).hostname in LOOPBACK:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(live.url.removesuffix("/v1") + path)
        return page

    yield open_
    for c in contexts:
        c.close()
    assert outside == [], "the page tried to reach another host"
    assert errors == [], "the page threw"


@pytest.fixture(scope="module")
def echo_ui(echo_live: Live) -> Live:
    """conftest's EchoBackend server (named like the bundled model, the suite in `docs`)."""
    return echo_live


@pytest.fixture(scope="module")
def smol_ui(tmp_path_factory, smol) -> Iterator[Live]:
    """The real SmolLM2 (loaded once per session) with adapter `ui-style` registered on it."""
    paths = Paths(tmp_path_factory.mktemp("ui-smol"))
    register_adapter(paths, "ui-style")
    registry = AdapterRegistry(paths)
    engine = Engine(paths=paths, backend=LocalBackend(smol, registry), embedder=FakeEmbedder())
    engine.ingest([SUITE_DOCS], "docs")
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()
    registry.close()


def ask(page, question: str) -> None:
    """Send `question` from the composer and wait until the answer is complete."""
    answers = page.locator(".turn.assistant")
    before = answers.count()
    page.fill("#prompt", question)
    page.press("#prompt", "Enter")
    expect(answers).to_have_count(before + 1)
    expect(page.locator("#send")).to_be_enabled(timeout=120_000)


def words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


# Records (length of the last answer's text, whether Stop was enabled) at every DOM change,
# so a test can see the answer grow while it was still running.
WATCH = """
window.__frames = [];
new MutationObserver(() => {
  const answers = document.querySelectorAll('.turn.assistant .answer');
  const stop = document.getElementById('stop');
  if (answers.length && stop) {
    window.__frames.push([answers[answers.length - 1].textContent.length, !stop.disabled]);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.mark.slow
def test_chat_on_the_real_model_streams_cites_and_runs_an_adapter(smol_ui, open_page) -> None:
    page = open_page(smol_ui)
    page.add_init_script(WATCH)
    page.reload()
    expect(page.locator("#model option")).to_have_count(2)
    expect(page.locator("#model")).to_contain_text("ui-style (adapter on smollm2-135m)")
    page.select_option("#collection", "docs")
    page.fill("#max-tokens", "32")  # room for the whole answer: one cut mid-year cites nothing

    ask(page, "Who is the director of the Vellmark Tidal Robotics Cooperative?")
    answer = page.locator(".turn.assistant").last
    text = answer.locator(".answer").inner_text()
    assert text.strip()
    # The passage reader's answer is judged whole before it is shown (`Prepared.check`): it
    # comes in one piece, while Stop is still enabled. The adapter's answer below streams.
    frames = page.evaluate("window.__frames")
    assert not any(0 < n < len(text) for n, _ in frames), frames
    assert any(running for _, running in frames), frames
    meta = answer.locator(".meta").inner_text()
    m = re.fullmatch(
        r"smollm2-135m · first token [\d.]+ s · [\d.]+ s in all · "
        r"([\d,]+) prompt \+ (\d+) answer tokens",
        meta,
    )
    assert m, meta
    assert 0 < int(m[2]) <= 32 and int(m[1].replace(",", "")) > 100  # the passages are in it

    # A citation opens its passage, and the passage is the document's own text.
    sources = answer.locator(".sources button.cite")
    assert sources.count() >= 1
    cited = answer.locator(".sources").inner_text()
    name = next(n for n in ("overview.md", "policies.md", "glossary.md") if n in cited)
    button = answer.locator(".sources button.cite").nth(
        [s.strip() for s in re.findall(r"\]\s*([\w.]+)", cited)].index(name)
    )
    button.focus()
    page.keyboard.press("Enter")  # keyboard reaches it
    dialog = page.locator("#passage")
    expect(dialog).to_be_visible()
    expect(page.locator("#passage-title")).to_contain_text(name)
    passage = words(page.locator("#passage-text").inner_text())
    doc = (SUITE_DOCS / name).read_text()
    assert len(passage) > 40 and passage in words(doc)
    # Above it, the lines selection showed the model, each one a line of the document.
    expect(page.locator("#passage-excerpt")).to_be_visible()
    shown = [ln for ln in page.locator("#passage-excerpt").inner_text().splitlines() if ln]
    assert shown and all(words(ln) in words(doc) for ln in shown)
    shot(page, "chat-passage")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    shot(page, "chat")

    # The adapter, picked from the list, writes the next answer: the one the library gives.
    page.click("#clear")
    page.select_option("#model", "ui-style")
    question = "Name three colours."
    page.evaluate("window.__frames = []")
    ask(page, question)
    answer = page.locator(".turn.assistant").last
    expect(answer.locator(".meta")).to_contain_text("ui-style · first token")
    # Streamed: the answer was on screen, partly written, while Stop was still enabled.
    text = answer.locator(".answer").inner_text()
    frames = page.evaluate("window.__frames")
    assert any(0 < n < len(text) and running for n, running in frames), frames
    direct = smol_ui.engine.chat(
        [{"role": "user", "content": question}],
        AskOptions(collection="docs", rag=True, max_tokens=32, adapter="ui-style"),
    )
    assert words(answer.locator(".answer").inner_text()) == words(direct.answer)


@pytest.fixture(scope="module")
def llama_ui(tmp_path_factory, smol_llama) -> Iterator[Live]:
    """The real SmolLM2 on llama.cpp, the engine whose model lock a dropped stream held."""
    engine = Engine(
        paths=Paths(tmp_path_factory.mktemp("ui-llama")),
        backend=smol_llama,
        embedder=FakeEmbedder(),
    )
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


@pytest.mark.slow
def test_stop_on_the_real_engine_frees_it_for_the_next_question(llama_ui, open_page) -> None:
    """Stop in the page mid-answer: the model is free at once, and the next question is
    answered as fast as on an idle server."""
    backend = llama_ui.engine.backend()
    page = open_page(llama_ui)
    page.fill("#max-tokens", "400")
    page.fill("#prompt", "Write the numbers from 1 to 400, separated by commas.")
    page.press("#prompt", "Enter")
    expect(page.locator(".turn.assistant .answer")).to_contain_text(",")
    page.click("#stop")
    expect(page.locator(".turn.assistant .meta")).to_contain_text("stopped after")
    assert backend.wait_idle(5)  # the batcher dropped the answer
    page.fill("#max-tokens", "8")
    started = time.perf_counter()
    ask(page, "Say hi.")
    waited = time.perf_counter() - started
    assert page.locator(".turn.assistant .answer").last.inner_text().strip()
    assert waited < 10, f"the next question took {waited:.1f} s"


def test_stop_ends_a_running_answer(echo_ui, open_page) -> None:
    backend = echo_ui.engine.backend()
    backend.reply = " ".join(["word"] * 4000)
    slow = backend.stream

    def crawl(request):
        import time

        for piece in slow(request):
            time.sleep(0.005)
            yield piece

    backend.stream = crawl
    try:
        page = open_page(echo_ui)
        page.fill("#max-tokens", "1500")
        page.uncheck("#rag")
        page.fill("#prompt", "go on")
        page.press("#prompt", "Enter")
        expect(page.locator(".turn.assistant .answer")).to_contain_text("word word")
        page.press("#prompt", "Escape")
        meta = page.locator(".turn.assistant .meta")
        expect(meta).to_contain_text("stopped after")
        expect(page.locator("#send")).to_be_enabled()
        assert len(page.locator(".turn.assistant .answer").inner_text()) < 1500 * 5
    finally:
        backend.reply = None
        del backend.stream


def test_a_hostile_answer_is_rendered_inert(echo_ui, open_page) -> None:
    hostile = (
        'Hi <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
        "[click me](javascript:window.__pwned=3) [data](data:text/html,<b>x</b>) "
        "[Docs](https://example.org/a) **bold** <a href=javascript:window.__pwned=4>a</a>"
    )
    backend = echo_ui.engine.backend()
    backend.reply = hostile
    try:
        # CSP off: the renderer alone must keep the markup inert (the CSP is a second wall).
        page = open_page(echo_ui, bypass_csp=True)
        page.uncheck("#rag")
        ask(page, "say it")
    finally:
        backend.reply = None
    answer = page.locator(".turn.assistant .answer")
    assert page.evaluate("window.__pwned") is None
    assert answer.locator("img, script, iframe, b").count() == 0
    hrefs = answer.locator("a").evaluate_all("els => els.map(a => a.href)")
    assert hrefs == ["https://example.org/a"]
    text = answer.inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in text
    assert "[click me](javascript:window.__pwned=3)" in text
    assert answer.locator("strong").inner_text() == "bold"


def test_upload_by_drop_one_refused_one_added_then_deleted(echo_ui, open_page) -> None:
    page = open_page(echo_ui)
    page.click("#tab-documents")
    page.fill("#doc-collection", "ui-up")
    # What the server says about the bad file, asked directly: the page must show it verbatim.
    refusal = httpx.post(
        f"{echo_ui.url}/collections/ui-up/documents", files={"file": ("evil.exe", b"MZ\x90\x00")}
    ).json()["error"]["message"]
    files = page.evaluate_handle(
        """(fact) => {
          const dt = new DataTransfer();
          dt.items.add(new File([fact], 'lighthouse.md', {type: 'text/markdown'}));
          dt.items.add(new File([new Uint8Array([77, 90, 144, 0])], 'evil.exe'));
          return dt;
        }""",
        FACT,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": files})
    lines = page.locator("#uploads li")
    expect(lines.nth(0)).to_have_text("lighthouse.md: added to ui-up: 1 chunks")
    expect(lines.nth(1)).to_have_text(f"evil.exe: {refusal}")
    assert "unsupported file type .exe" in refusal
    row = page.locator("#docs-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("lighthouse.md")
    expect(row.locator("td").nth(1)).to_have_text("1")
    expect(page.locator("#collections-table")).to_contain_text("ui-up")
    shot(page, "documents")
    page.click("button[aria-label='Delete lighthouse.md']")
    expect(row).to_have_count(0)
    assert httpx.get(f"{echo_ui.url}/collections/ui-up/documents").json()["data"] == []


def test_memory_from_chat_is_listed_and_one_item_forgotten(echo_ui, open_page) -> None:
    page = open_page(echo_ui)
    expect(page.locator("#memory-on")).to_be_disabled()  # no user: no memory
    page.fill("#user", "ui-ann")
    page.press("#user", "Tab")
    expect(page.locator("#memory-on")).to_be_enabled()
    page.uncheck("#rag")
    ask(page, "My cat is called Bublik.")
    ask(page, "I live in Lisbon.")
    page.keyboard.press("Alt+3")
    rows = page.locator("#memory-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#memory-table")).to_contain_text("My cat is called Bublik.")
    shot(page, "memory")
    page.click("button[aria-label='Forget: My cat is called Bublik.']")
    expect(rows).to_have_count(1)
    left = httpx.get(f"{echo_ui.url}/memories", params={"user": "ui-ann"}).json()["data"]
    assert [m["text"] for m in left] == ["I live in Lisbon."]
    page.click("#memory-refresh")
    expect(rows).to_have_count(1)


def test_a_plan_is_drawn_and_says_whether_it_fits(echo_ui, open_page) -> None:
    page = open_page(echo_ui)
    page.click("#tab-plan")
    expect(page.locator("#plan-model option[value='qwen2.5-32b']")).to_have_count(1)
    page.select_option("#plan-model", "qwen2.5-32b")
    page.select_option("#plan-gpu", "rtx-4090")
    page.click("#plan-form button[type=submit]")
    want = plan(
        PlanSpec(
            "qwen2.5-32b", gpus=("rtx-4090",), context=16384, loras=5, rag_chunks=8, lora_rank=16
        )
    )
    assert not want.gpus[0].fits
    expect(page.locator("#plan-verdict")).to_contain_text(
        f"Does not fit on {want.gpus[0].name}: needs {want.total_bytes / 1e9:.1f} GB"
    )
    bars = page.locator("svg.plan-chart rect.segment")
    expect(bars).to_have_count(6)
    heights = bars.evaluate_all("rs => rs.map(r => r.getBBox().height)")
    b = want.breakdown
    assert heights[0] / heights[1] == pytest.approx(b.weights / b.lora, rel=0.02)
    expect(page.locator("svg.plan-chart line.gpu-line")).to_have_count(1)

    page.select_option("#plan-gpu", "h200")
    page.press("#plan-form input[name=context]", "Enter")  # Enter submits the form
    expect(page.locator("#plan-verdict")).to_contain_text("Fits on NVIDIA H200")
    shot(page, "plan")


def test_an_eval_file_opens_as_a_table_and_a_chart(echo_ui, open_page) -> None:
    result = {
        "suite": "suite",
        "results": {
            "smollm2-135m": {"accuracy": 0.2, "citation_accuracy": None, "latency_p50_s": 1.5},
            "smollm2-135m+rag": {"accuracy": 0.8, "citation_accuracy": 0.7, "latency_p50_s": 2.5},
        },
        "per_question": [{"config": "smollm2-135m"}] * 3,
        "seconds": 12.5,
    }
    page = open_page(echo_ui)
    page.click("#tab-eval")
    page.set_input_files(
        "#eval-file",
        {"name": "bad.json", "mimeType": "application/json", "buffer": b'{"suite": 1}'},
    )
    expect(page.locator("#eval-status")).to_have_text(
        "bad.json is not an `outweigh eval --json` file: it has no `results` object"
    )
    page.set_input_files(
        "#eval-file",
        {"name": "eval.json", "mimeType": "text/json", "buffer": json.dumps(result).encode()},
    )
    table = page.locator("#eval-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    accuracy = table.locator("tbody tr").nth(0)
    expect(accuracy).to_have_text(re.compile(r"accuracy\s*0\.200\s*0\.800"))
    expect(accuracy.locator("td.best")).to_have_text("0.800")
    expect(table.locator("tbody tr").nth(1).locator("td").nth(1)).to_have_text("n/a")
    expect(table.locator("tbody tr").nth(2).locator("td.best")).to_have_text("1.50")  # lower wins
    expect(page.locator("#eval-chart svg")).to_have_count(2)
    expect(page.locator("#eval-status")).to_contain_text("2 configs, 3 scored answers")
    shot(page, "eval")


def test_the_page_asks_for_the_key_once_per_tab(live_factory, open_page) -> None:
    live = live_factory(ServeSettings(api_key=KEY), backend=EchoBackend("smollm2-135m"))
    page = open_page(live)
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#key-why")).to_have_text(
        "missing API key; send Authorization: Bearer <key>"
    )
    shot(page, "key")
    page.fill("#key", "not-the-key")
    page.press("#key", "Enter")
    expect(page.locator("#key-why")).to_have_text(
        "wrong API key; use the key `outweigh users add` printed, or the server's"
    )
    expect(dialog).to_be_visible()
    page.fill("#key", KEY)
    page.press("#key", "Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#model option")).to_have_count(1)
    assert page.evaluate("sessionStorage.getItem('outweigh.key')") == KEY
    ask(page, "hello there")
    expect(page.locator(".turn.assistant .answer")).to_contain_text("hello there")
    page.reload()  # kept for the tab: no second prompt
    expect(page.locator("#model option")).to_have_count(1)
    expect(dialog).to_be_hidden()


def test_a_users_page_says_who_they_are_and_sends_no_user(paths, open_page) -> None:
    """With users on the server, the page asks for a key, shows whose it is, keeps memory
    for that user without ever sending a `user` of its own, and lists history."""
    engine = Engine(paths=paths, backend=EchoBackend("smollm2-135m"), embedder=FakeEmbedder())
    key = engine.add_user("ui-alice")
    engine.add_user("ui-bob")
    server, live = start(engine)
    try:
        page = open_page(live)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
        expect(page.locator("#key-dialog")).to_be_visible()
        page.fill("#key", key)
        page.press("#key", "Enter")
        expect(page.locator("#me")).to_have_text("Signed in as ui-alice")
        expect(page.locator("#user")).to_be_hidden()
        expect(page.locator("#memory-on")).to_be_enabled()
        ask(page, "My cat is called Bublik.")  # no collection here: no retrieval either
        ask(page, "My cat is now called Murka.")
        assert sent and not any("user" in json.loads(body) for body in sent)
        assert [m.text for m in engine.memories("ui-alice")] == ["My cat is now called Murka."]
        assert engine.memories("ui-bob") == []
        page.keyboard.press("Alt+3")
        rows = page.locator("#memory-table tbody tr")
        expect(rows).to_have_count(1)
        page.check("#memory-history")
        expect(rows).to_have_count(2)
        expect(page.locator("#memory-table")).to_contain_text("My cat is called Bublik. (replaced)")
        shot(page, "memory-history")
        page.click("button[aria-label='Forget: My cat is now called Murka.']")
        expect(rows).to_have_count(0)
        assert engine.memories("ui-alice", include_history=True) == []
    finally:
        server.__exit__()
        engine.close()


def test_docs_render_their_operations_with_no_network(echo_ui, open_page) -> None:
    page = open_page(echo_ui, "/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    paths = httpx.get(echo_ui.url.removesuffix("/v1") + "/openapi.json").json()["paths"]
    expect(operations).to_have_count(sum(len(methods) for methods in paths.values()))
    expect(page.locator(".opblock-summary-path").first).to_contain_text("/v1/")
    shot(page, "docs")


def test_the_docs_run_under_their_csp_with_nothing_refused(echo_ui, open_page) -> None:
    paths = httpx.get(echo_ui.url.removesuffix("/v1") + "/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    for path in ("/docs", "/redoc"):
        page = open_page(echo_ui, path)
        console: list[str] = []
        page.on("console", lambda m, console=console: console.append(m.text))
        page.reload()  # again, now with the console watched from the start
        if path == "/docs":
            expect(page.locator(".opblock")).to_have_count(operations)
        else:
            expect(page.locator("h2").filter(has_text="Chat Completions")).to_be_visible()
        refused = [m for m in console if "Content Security Policy" in m]
        # ReDoc's footer logo comes from its CDN: refused, as every other host is.
        assert [m for m in refused if "cdn.redoc.ly" not in m] == [], refused
