"""Write the `kerasrnn diagnose` results as JSON and matplotlib PNG plots."""

import io
import json
import math
import os

import numpy as np

from kerasrnn.diagnostics.experiments import CELLS, CLIPPING_MODES, RECURRENT_INITIALIZERS

CELL_NAMES = {"simple_rnn": "SimpleRNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
CELL_COLORS = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
INIT_COLORS = {"glorot_uniform": "tab:orange", "he_normal": "tab:purple", "orthogonal": "tab:gray"}
MODE_COLORS = {"none": "black", "clipnorm": "tab:blue", "clipvalue": "tab:green", "global_clipnorm": "tab:red"}


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "The diagnostics report needs matplotlib: pip install 'kerasrnn[diagnostics]' "
            "(or pip install matplotlib)."
        ) from error
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as pyplot

    return pyplot


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.floating, float)):
        # 5 significant digits: plenty for plots, and the report stays small.
        return float(f"{value:.5g}") if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summarize(results):
    """The headline figures: decay rates, first-step norms, ratios, clip fractions.

    Args:
        results: what `run_diagnosis` returned.

    Example:

    >>> summarize(results)["clip_fraction"]["clipnorm"]  # doctest: +SKIP
    0.08
    """
    cells = results["cells"]
    summary = {"jacobian_decay_rate_per_step": {}, "jacobian_norm_first_step": {}, "loss_gradient_norm_first_step": {}}
    for stage in ("initial", "trained"):
        for key in summary:
            source = key.replace("_per_step", "")
            summary[key][stage] = {cell: cells[cell][stage][source] for cell in cells}
    # The SimpleRNN's ∂h_T/∂h_0 can underflow float32 (to 0) after training; compare
    # the two cells at the longest lag where both are still representable.
    for stage in ("initial", "trained"):
        lstm = np.asarray(cells["lstm"][stage]["jacobian_norm"], dtype="float64")[::-1]
        simple = np.asarray(cells["simple_rnn"][stage]["jacobian_norm"], dtype="float64")[::-1]
        both = np.flatnonzero((lstm > 0) & (simple > 0))
        lag = int(both[-1]) if both.size else 0
        summary.setdefault("lstm_over_simple_rnn_jacobian", {})[stage] = {
            "lag": lag,
            "ratio": float(lstm[lag] / simple[lag]) if both.size else None,
            "simple_rnn_underflows_to_zero": bool(np.any(simple == 0)),
        }
    summary["clip_fraction"] = {mode: run["clip_fraction"] for mode, run in results["clipping"].items()}
    summary["clipping_final_loss"] = {mode: run["final_loss"] for mode, run in results["clipping"].items()}
    summary["initializer_jacobian_decay_rate_per_step"] = {
        cell: {init: run["jacobian_decay_rate"] for init, run in inits.items()}
        for cell, inits in results["initializers"].items()
    }
    summary["initializer_spectrum"] = {
        cell: {init: run["spectrum"] for init, run in inits.items()} for cell, inits in results["initializers"].items()
    }
    return summary


def _lags(values):
    return np.arange(len(values))[::-1]  # steps back from the last step


def _positive(values):
    values = np.asarray(values, dtype="float64")
    return np.where(values > 0, values, np.nan)  # log axes cannot show 0 (underflow)


def _save(pyplot, figure, path, title):
    """Title, lay out and write `figure` as a small PNG at `path`, then close it: how every figure ends."""
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    pyplot.close(figure)
    try:
        from PIL import Image  # matplotlib depends on Pillow
    except ImportError:
        with open(path, "wb") as file:
            file.write(buffer.getvalue())
        return
    # A 256-colour palette keeps line plots sharp at a third of the size (committed PNGs stay small).
    Image.open(buffer).convert("RGB").quantize(colors=256).save(path, optimize=True)


def _plot_cells(pyplot, config, cells, data):
    """2×2: ‖∂h_T/∂h_t‖ and ‖∂L/∂h_t‖ vs steps back, at init and after training."""
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 8), sharex=True)
    stages = {"initial": "at initialization", "trained": f"after {config['train_steps']} training steps"}
    quantities = {
        "jacobian_norm": ("‖∂h_T/∂h_t‖ (largest singular value)", "jacobian_decay_rate"),
        "loss_gradient_norm": ("‖∂L/∂h_t‖ (L2 norm, loss in nats)", "loss_gradient_decay_rate"),
    }
    # The task's own reading of the plot (its diagnosis data's flow_note); older reports have none.
    note = data.get("flow_note", "")
    for row, (quantity, (label, rate_key)) in enumerate(quantities.items()):
        for column, (stage, stage_title) in enumerate(stages.items()):
            axis = axes[row, column]
            for cell in cells:
                run = cells[cell][stage]
                rate = run[rate_key]
                legend = CELL_NAMES[cell] + (f" (slope {rate:+.3f}/step)" if rate is not None else "")
                axis.plot(_lags(run[quantity]), _positive(run[quantity]), color=CELL_COLORS[cell], label=legend)
            axis.set_yscale("log")
            axis.set_title(f"{label.split(' (')[0]} {stage_title}")
            axis.set_ylabel(label)
            axis.grid(True, which="major", alpha=0.3)
            axis.legend(fontsize=8)
            if row == 1:
                axis.set_xlabel("steps back from the last step, T − t (time steps)")
    return figure, (
        f"Gradient flow over {config['seq_len']} steps: {data['description']}; "
        f"{config['units']} units, mean of {config['jacobian_examples']} held-out sequences\n"
        f"(0 = below float32's range, not drawn{'; ' + note if note else ''})",
    )


def _plot_clipping(pyplot, config, runs, data):
    """1×3: global gradient norm before and after clipping, and training loss, per mode."""
    figure, axes = pyplot.subplots(1, 3, figsize=(15, 4.8))
    for mode in runs:
        run = runs[mode]
        steps = np.arange(1, len(run["global_norm"]) + 1)
        name = mode if mode == "none" else f"{mode}={run['threshold']:g}"
        label = f"{name}: clipped {run['clip_fraction']:.0%} of steps"
        axes[0].plot(steps, run["global_norm"], color=MODE_COLORS[mode], label=label, linewidth=0.9)
        axes[1].plot(steps, run["global_norm_clipped"], color=MODE_COLORS[mode], label=name, linewidth=0.9)
        if mode == "global_clipnorm":
            axes[1].axhline(run["threshold"], color=MODE_COLORS[mode], linestyle=":", linewidth=1,
                            label=f"global_clipnorm bound ({run['threshold']:g})")
        axes[2].plot(steps, run["training_loss"], color=MODE_COLORS[mode], label=name)
    axes[0].set_title("Global gradient norm before clipping")
    axes[1].set_title("Global norm of the applied (clipped) gradient")
    axes[2].set_title("Training loss")
    for axis in axes[:2]:
        axis.set_yscale("log")
        axis.set_ylabel("global L2 norm of all gradients")
    axes[2].set_ylabel("cross-entropy, running mean (nats)")
    for axis in axes:
        axis.set_xlabel("training step")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    return figure, (
        f"Gradient clipping, {config['clip_cell']} with {config['units']} units, {config['seq_len']}-step "
        f"sequences, same seed and batches: {data['description']}",
    )


def _plot_initializers(pyplot, config, runs, data):
    """1×3: ‖∂h_T/∂h_t‖ at init per recurrent initializer; SimpleRNN and LSTM spectra."""
    figure, axes = pyplot.subplots(1, 3, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.4, 0.8, 1.2]})
    styles = {"simple_rnn": "-", "lstm": "--"}
    for cell, inits in runs.items():
        for init, run in inits.items():
            rate = run["jacobian_decay_rate"]
            label = f"{CELL_NAMES[cell]}, {init}" + (f" ({rate:+.3f}/step)" if rate is not None else "")
            axes[0].plot(_lags(run["jacobian_norm"]), _positive(run["jacobian_norm"]), styles[cell],
                         color=INIT_COLORS[init], label=label)
    axes[0].set_yscale("log")
    axes[0].set_title("‖∂h_T/∂h_t‖ at initialization")
    axes[0].set_xlabel("steps back from the last step, T − t (time steps)")
    axes[0].set_ylabel("largest singular value of ∂h_T/∂h_t")
    axes[0].legend(fontsize=7)
    width = 0.35
    inits = list(RECURRENT_INITIALIZERS)
    positions = np.arange(len(inits))
    simple = runs["simple_rnn"]
    for offset, (key, label) in enumerate((("max_singular_value", "largest singular value"), ("spectral_radius", "spectral radius"))):
        axes[1].bar(positions + (offset - 0.5) * width, [simple[i]["spectrum"]["kernel"][key] for i in inits],
                    width, label=label, color=["tab:blue", "tab:orange"][offset])
    axes[1].axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    axes[1].set_xticks(positions, inits, fontsize=8)
    axes[1].set_title("SimpleRNN recurrent kernel")
    axes[1].set_ylabel("value (1 = neither grows nor shrinks)")
    axes[1].legend(fontsize=8)
    lstm = runs["lstm"]
    gates = list(next(iter(lstm.values()))["spectrum"])
    gate_positions = np.arange(len(gates))
    bar = 0.8 / len(inits)
    for index, init in enumerate(inits):
        x = gate_positions + (index - (len(inits) - 1) / 2) * bar
        axes[2].bar(x, [lstm[init]["spectrum"][gate]["max_singular_value"] for gate in gates], bar,
                    color=INIT_COLORS[init], label=f"{init}: largest singular value")
        axes[2].plot(x, [lstm[init]["spectrum"][gate]["spectral_radius"] for gate in gates], "k_", markersize=12)
    axes[2].plot([], [], "k_", markersize=12, label="spectral radius")
    axes[2].axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    axes[2].set_xticks(gate_positions, [f"{gate} gate" for gate in gates], fontsize=8)
    axes[2].set_title("LSTM recurrent kernel, per gate block")
    axes[2].set_ylabel("value (1 = neither grows nor shrinks)")
    axes[2].legend(fontsize=7)
    for axis in axes:
        axis.grid(True, alpha=0.3)
    return figure, (
        f"Recurrent initializers (input kernels glorot_uniform), {config['units']} units, "
        f"{config['seq_len']} steps: {data['description']}",
    )


# The report's figures: file → (the comparison it draws, the function drawing it on a new figure
# from the config, that comparison's results and the data's entry (description, flow note); each
# returns the figure and its title, and `_save` ends every figure the same way).
FIGURES = {
    "cells.png": ("cells", _plot_cells),
    "clipping.png": ("clipping", _plot_clipping),
    "initializers.png": ("initializers", _plot_initializers),
}


def write_report(results, out_dir):
    """Write `report.json` (all curves), `summary.json` (headline figures) and the three PNGs.

    Args:
        results: what `run_diagnosis` returned.
        out_dir: the report folder (created if missing).

    Returns:
        The list of written paths.

    Example:

    >>> write_report(run_diagnosis("../shared/data/tinyshakespeare/input.txt"), "reports/diagnostics")  # doctest: +SKIP
    """
    _pyplot()  # fail before writing anything if matplotlib is missing
    os.makedirs(out_dir, exist_ok=True)
    written = []
    summary = summarize(results)
    for name, data in (("report.json", results), ("summary.json", {"config": results["config"], **summary})):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as file:
            json.dump(_jsonable(data), file, indent=1 if name == "summary.json" else None, sort_keys=True)
            file.write("\n")
        written.append(path)
    pyplot = _pyplot()
    for name, (key, plot) in FIGURES.items():
        figure, title = plot(pyplot, results["config"], results[key], results["data"])
        path = os.path.join(out_dir, name)
        _save(pyplot, figure, path, title)
        written.append(path)
    return written
