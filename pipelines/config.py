"""YAML → frozen, typed config dataclasses, validated at launch.

A config file has one section per concern: ``pipeline`` (runner options),
``read``, ``write`` and one section per stage named in
:data:`tailguard.pipelines.stages.STAGES` (each with an ``enabled`` flag).  Every
section maps onto the frozen dataclass that lives beside its PTransform.  Unknown
keys, wrong types and values outside a ``Literal`` fail here with a
:class:`ConfigError` that names the key and what is allowed — never at run time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tailguard.filters.errors import ConfigError
from tailguard.pipelines.stages import STAGES, StageSpec
from tailguard.transforms.collapse import CollapseConfig
from tailguard.transforms.read_crawl import ReadConfig
from tailguard.transforms.write_corpus import WriteConfig

__all__ = [
    "ConfigError",
    "CurationConfig",
    "PipelineConfig",
    "ResumeConfig",
    "build_dataclass",
    "load_config",
    "option_flags",
]


@dataclass(frozen=True)
class PipelineConfig:
    """Runner settings (all other Beam flags may also be given on the command line).

    Attributes:
        runner: Beam runner.  The default in-process ``FnApiRunner`` never tries
            to download Prism (recent DirectRunner does); use ``DataflowRunner``
            or ``FlinkRunner`` for clusters.
        direct_running_mode: ``in_memory`` (default), ``multi_threading`` or
            ``multi_processing`` for the local runner.
        direct_num_workers: Workers of the local runner.
        options: Extra Beam pipeline options (``name: value``), e.g. ``project``.
    """

    runner: str = "FnApiRunner"
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = "in_memory"
    direct_num_workers: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.direct_num_workers < 1:
            raise ValueError("pipeline.direct_num_workers must be >= 1")
        if self.runner in ("DirectRunner", "PrismRunner") and "prism_location" not in self.options:
            raise ValueError(
                f"pipeline.runner {self.runner!r} may try to download the Prism runner from the internet; "
                "use FnApiRunner (in-process) or set pipeline.options.prism_location"
            )

    def beam_args(self) -> list[str]:
        """Return these settings as Beam command-line flags."""
        args = [f"--runner={self.runner}"]
        if self.runner == "FnApiRunner":
            args += [
                f"--direct_running_mode={self.direct_running_mode}",
                f"--direct_num_workers={self.direct_num_workers}",
            ]
        return args + option_flags(self.options)


def option_flags(options: dict[str, Any]) -> list[str]:
    """Return ``name: value`` Beam options as command-line flags (``--name=value``)."""
    args: list[str] = []
    for key, value in options.items():
        if isinstance(value, bool):
            args.append(f"--{key}" if value else f"--no_{key}")
        elif isinstance(value, list):
            args += [f"--{key}={v}" for v in value]
        else:
            args.append(f"--{key}={value}")
    return args


@dataclass(frozen=True)
class ResumeConfig:
    """Resumable runs: the ingest phase is checkpointed per batch of input files.

    Attributes:
        enabled: Run in two phases — ingest (read + the leading per-document
            stages) per batch of input files, each batch checkpointed with a
            completion record; then the corpus-wide stages over all checkpoints.
            A killed run restarted with the same config and output skips
            completed batches.  When false, one pipeline runs everything.
        batch_files: Input files per ingest batch (0 = all files in one batch:
            right for Dataflow/Flink, where one job parallelises over files).
        keep_checkpoints: Keep ``_work/ingest`` after the run finished.
        curate_options: Beam options (``name: value``) for the curate-phase job only, over
            ``pipeline.options`` and the command line, e.g. ``{parallelism: 8}``: on Flink a
            partition's output must stay under ~1 GB (deploy/flink/README.md).  Not part of
            the ingest checkpoints' key, so changing it reuses completed ingest batches.
    """

    enabled: bool = True
    batch_files: int = 16
    keep_checkpoints: bool = False
    curate_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_files < 0:
            raise ValueError("resume.batch_files must be >= 0")


@dataclass(frozen=True)
class CurationConfig:
    """The whole run configuration.

    Attributes:
        inputs: Input file globs (local or ``gs://``); ``--input`` overrides.
        output: Output directory; ``--output`` overrides.
        seed: Seed of every sampling/ordering decision in the run.
        pipeline: Runner settings.
        read: Reader settings.
        write: Writer settings.
        resume: Checkpointing of the ingest phase.
        collapse: Collapse indicators measured on the final corpus (report.json/html).
        stages: Per-stage configs by stage name, in pipeline order.
    """

    inputs: tuple[str, ...] = ()
    output: str = ""
    seed: int = 0
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    write: WriteConfig = field(default_factory=WriteConfig)
    resume: ResumeConfig = field(default_factory=ResumeConfig)
    collapse: CollapseConfig = field(default_factory=CollapseConfig)
    stages: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str) -> Any:
        """Return the config of stage ``name``."""
        return self.stages[name]

    def enabled_stages(self) -> list[tuple[StageSpec, Any]]:
        """Return ``(spec, config)`` of the enabled stages, in pipeline order."""
        return [(spec, self.stages[spec.name]) for spec in STAGES if self.stages[spec.name].enabled]

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain JSON-compatible data."""
        out = {
            "inputs": list(self.inputs),
            "output": self.output,
            "seed": self.seed,
            "pipeline": dataclasses.asdict(self.pipeline),
            "read": dataclasses.asdict(self.read),
            "write": dataclasses.asdict(self.write),
            "resume": dataclasses.asdict(self.resume),
            "collapse": dataclasses.asdict(self.collapse),
        }
        for name, cfg in self.stages.items():
            out[name] = dataclasses.asdict(cfg)
        return json.loads(json.dumps(out, default=list))

    def sha256(self) -> str:
        """Return the sha256 of the canonical JSON of the resolved config (minus paths)."""
        data = self.to_dict()
        data.pop("output", None)
        data.pop("inputs", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def replace(self, **changes: Any) -> CurationConfig:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


_TOP_LEVEL = {"inputs", "output", "seed", "pipeline", "read", "write", "resume", "collapse"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against type ``tp`` and convert lists/dicts; raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} does not match {_type_name(tp)}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return build_dataclass(tp, value, where)
    if origin in (tuple, list):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) > 1 and args[1] is not Ellipsis:  # fixed-length tuple
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} items, got {value!r}")
            return tuple(_coerce(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, args, strict=True)))
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def build_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build the frozen dataclass ``cls`` from ``data``, validating every key.

    Args:
        cls: A dataclass type.
        data: Mapping from YAML.
        where: Dotted config path used in error messages.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: For unknown keys, wrong types, disallowed values, or a
            ``ValueError`` from the dataclass's own ``__post_init__`` checks.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    # str(): YAML keys may be numbers or booleans, which do not sort with strings.
    unknown = sorted(str(k) for k in set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(names)}")
    kwargs = {key: _coerce(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def config_from_dict(data: dict[str, Any] | None) -> CurationConfig:
    """Build a :class:`CurationConfig` from parsed YAML.

    Args:
        data: The parsed YAML mapping (``None`` = all defaults).

    Returns:
        The validated config.

    Raises:
        ConfigError: With the offending key and the allowed values.
    """
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError("config: the file must hold a mapping of sections")
    stage_names = [spec.name for spec in STAGES]
    unknown = sorted(str(k) for k in set(data) - _TOP_LEVEL - set(stage_names))
    if unknown:
        raise ConfigError(
            f"config: unknown section(s) {', '.join(unknown)}; "
            f"allowed sections: {', '.join(sorted(_TOP_LEVEL))}, {', '.join(stage_names)}"
        )
    stages = {}
    for spec in STAGES:
        section = data.pop(spec.name, None) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{spec.name}: expected a mapping, got {section!r}")
        stages[spec.name] = build_dataclass(spec.config_cls, section, spec.name)
    if isinstance(data.get("inputs"), str):
        data["inputs"] = [data["inputs"]]
    top = build_dataclass(CurationConfig, {k: v for k, v in data.items() if k in _TOP_LEVEL}, "config")
    return dataclasses.replace(top, stages=stages)


def load_config(path: str | Path | None) -> CurationConfig:
    """Load and validate a YAML config file (``None`` = defaults).

    Args:
        path: Path to a YAML file.

    Returns:
        The validated config.

    Raises:
        ConfigError: When the file is missing, not YAML, or invalid.
    """
    if path is None:
        return config_from_dict({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except RecursionError as exc:
        raise ConfigError(f"{path}: YAML nested too deeply") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the file must hold a mapping of sections")
    return config_from_dict(data)
