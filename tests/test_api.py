import subprocess
import sys

import outweigh


def test_all_is_sorted_and_every_name_resolves():
    assert outweigh.__all__ == sorted(outweigh.__all__)
    for name in outweigh.__all__:
        assert getattr(outweigh, name) is not None


def test_importing_the_package_loads_no_heavy_dependency():
    probe = (
        "import sys, outweigh, outweigh.cli, outweigh.plan; "
        "print(sorted(m for m in ('numpy', 'torch', 'transformers', 'faiss') "
        "if m in sys.modules))"
    )
    assert subprocess.check_output([sys.executable, "-c", probe], text=True).strip() == "[]"


def test_all_lists_exactly_the_lazy_exports():
    assert set(outweigh.__all__) == {*outweigh._EXPORTS, "__version__"}
