"""Regenerate docs/api.md from the packages' ``__all__`` and docstrings: ``python docs/gen_api.py``."""

import inspect

import kgon
import sampling
import theory

L = ["# API overview", "", "The public API of the three packages (their `__all__`), with the first line of each",
     "docstring. Full documentation is in the docstrings (`help(kgon.kgon)`). Layering: `kgon` <- `sampling` <- `theory`;",
     "imports point one way only.", ""]
desc = {"kgon": "the mathematics of the potential: closed form, evaluators, k-gons, critical-point search, geometry, LLC, classification",
        "sampling": "data, exact fast empirical potential, posterior (numpyro), NUTS and parallel tempering, occupancy, SGD, SGLD",
        "theory": "free energies, transitions, theory-vs-experiment comparison, figures, sweeps, reproduction, the CLI"}
for m in (kgon, sampling, theory):
    L += [f"## `{m.__name__}`", "", desc[m.__name__], "", "| name | kind | summary |", "|---|---|---|"]
    for name in m.__all__:
        obj = getattr(m, name)
        kind = "class" if inspect.isclass(obj) else ("function" if callable(obj) else "constant")
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        first = doc[0] if doc and kind != "constant" else ""
        if kind == "function":
            try:
                sig = str(inspect.signature(obj))
            except (TypeError, ValueError):
                sig = "(...)"
            if len(sig) > 90: sig = sig[:87] + "...)"
            label = f"`{name}{sig}`"
        else:
            label = f"`{name}`"
        esc = lambda s: s.replace('|', chr(92) + '|')
        L.append('| ' + esc(label) + ' | ' + kind + ' | ' + esc(first) + ' |')
    L.append("")
import kgon.plot  # noqa: E401 - the figure modules (matplotlib) are not in the facades
import sampling.plot
import theory.plot

L += ["## Plotting", "",
      "Figures live in a `plot` module of the package whose results they draw; each shared drawing exists once, in",
      "the lowest layer that needs it (`kgon.plot.save_figure` writes every figure as PNG + PDF).", ""]
L += [f"- `{m.__name__}`: " + ", ".join(f"`{n}`" for n in m.__all__) + "." for m in (kgon.plot, sampling.plot, theory.plot)]
L += ["", "## Main job", "", "`theory.reproduce.reproduce(out_dir, *, quick=False, seed=0, config=None)` runs the whole",
      "reproduction (`tmsphase reproduce`)."]
import pathlib

(pathlib.Path(__file__).resolve().parent / "api.md").open("w").write("\n".join(L) + "\n")
