"""``optsearch search``: evolve update rules and print the best ones found.

Settings come from the defaults, then ``--config run.toml``, then flags (a flag wins).
Every key of the TOML file has a flag; see docs/search.md for the file format.
"""

from __future__ import annotations

import argparse
from typing import Any

from optsearch.errors import ConfigError

NAME = "search"
HELP = "search for optimizers: evolve programs, train them on proxy tasks, keep the best"
DESCRIPTION = (
    "Evolve update-rule programs (regularized evolution, as in the Lion paper), train each on "
    "small proxy tasks against tuned AdamW, and print the best programs. With no options it "
    "runs a small search that finishes on CPU in a few minutes. Stop it at any moment "
    "(Ctrl-C, kill -9) and continue with `optsearch resume RUN`.")

# Flags whose name is not simply --KEY (the key clashes with another section's, or reads badly).
_FLAG_NAMES = {
    ("mutation", "weights"): "--mutation-weights",
    ("mutation", "primitives"): "--primitive-weights",
    ("eval", "options"): "--eval-options",
    ("eval", "factory"): "--evaluator",
    ("eval", "validity"): "--validity",
    ("funnel", "k"): "--funnel-k",
    ("funnel", "size"): "--funnel-size",
    ("funnel", "seeds"): "--funnel-seeds",
    ("funnel", "min_fitness"): "--funnel-min-fitness",
}


def _flag(section: str | None, key: str) -> str:
    return _FLAG_NAMES.get((section, key), "--" + key.replace("_", "-"))


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _list(text: str) -> list:
    return [_number(x.strip()) for x in text.split(",") if x.strip()]


def _mapping(text: str) -> dict:
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...], got {item!r}")
        out[key.strip()] = _number(value.strip())
    return out


def add_config_arguments(p: argparse.ArgumentParser, only: set[str] | None = None) -> None:
    """One flag per config key (or per key in ``only``); unset flags change nothing."""
    from optsearch.search.config import TOP_LEVEL, RunConfig, section_fields, field_type

    defaults = RunConfig()
    for key, help in TOP_LEVEL.items():
        if only is None or key in only:
            f = RunConfig.__dataclass_fields__[key]
            kind = field_type(f.type)
            p.add_argument(_flag(None, key), dest=f"cfg.{key}", type=kind, metavar=key.upper(),
                           default=argparse.SUPPRESS, help=f"{help} (default: {getattr(defaults, key)!r})")
    groups: dict[str, Any] = {}
    for section, f in section_fields():
        if only is not None and f.name not in only:
            continue
        if section not in groups:
            groups[section] = p.add_argument_group(f"[{section}] settings")
        g = groups[section]
        kind = field_type(f.type)
        default = getattr(getattr(defaults, section), f.name)
        help = f"{f.metadata['help']} (default: {default!r})"
        kw: dict[str, Any] = {"dest": f"cfg.{section}.{f.name}", "default": argparse.SUPPRESS,
                              "help": help}
        if kind is bool:
            g.add_argument(_flag(section, f.name), action=argparse.BooleanOptionalAction, **kw)
            continue
        if kind is list:
            kw.update(type=_list, metavar="A,B,...")
        elif kind is dict:
            kw.update(type=_mapping, metavar="K=V,...")
        else:
            kw["type"] = kind
            if f.metadata.get("choices"):
                kw["choices"] = f.metadata["choices"]
            else:
                kw["metavar"] = f.name.upper()
        g.add_argument(_flag(section, f.name), **kw)


def flags_to_dict(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys given as flags, nested by section."""
    out: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith("cfg."):
            continue
        parts = dest.split(".")[1:]
        if len(parts) == 1:
            out[parts[0]] = value
        else:
            out.setdefault(parts[0], {})[parts[1]] = value
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="RUN.toml",
                   help="TOML file with settings (sections [search] [mutation] [eval] [funnel] "
                        "[workers]; see docs/search.md); flags override it")
    p.add_argument("--run-id", help="name the run folder (default: DATE-TIME-NAME-sSEED)")
    p.add_argument("--quiet", action="store_true", help="no live display")
    p.add_argument("--top", type=int, default=3, help="how many best programs to print at the end")
    add_config_arguments(p)


def build_config(args: argparse.Namespace):
    from optsearch.search.config import RunConfig, load_toml, merge

    config = RunConfig()
    if args.config:
        config = RunConfig.from_dict(load_toml(args.config), where=args.config)
    flags = flags_to_dict(args)
    if flags:
        config = merge(config, flags, where="command line")
    return config


def limit_text(config) -> str:
    s = config.search
    parts = []
    if s.generations:
        parts.append(f"/{s.generations}")
    if s.time_budget:
        parts.append(f" (budget {s.time_budget:.0f} s)")
    return "".join(parts)


def run(args: argparse.Namespace) -> int:
    from optsearch.search import Search

    config = build_config(args)
    if args.top < 0:
        raise ConfigError("--top must be >= 0")
    search = Search.create(config, args.run_id)
    print(f"run {search.store.run_id} in {config.runs_dir}/ (stop any time; continue with "
          f"`optsearch resume {search.store.run_id}`)", flush=True)
    return run_to_end(search, args)


def run_to_end(search, args: argparse.Namespace) -> int:
    """Run ``search`` with the live display, print its summary, close it (search and resume)."""
    from optsearch.search.display import SearchDisplay, print_summary

    try:
        with SearchDisplay(limit_text(search.config), quiet=args.quiet) as display:
            search.run(display)
        print_summary(search.summary(max(args.top, 1)), top=args.top)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: optsearch resume {search.store.run_id}")
        return 130
    finally:
        search.close()
    return 0
