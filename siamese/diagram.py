"""Draw the Siamese network as a block diagram with Matplotlib (no Graphviz needed)."""

from __future__ import annotations

import re

import keras


def layer_groups(network: keras.Model) -> list[tuple[str, str]]:
    """Summarise the embedding network's layers as ``(description, output shape)`` rows.

    The layers of one convolution block (``blockN_…``) become one row, such as
    ``"block 1: 2 × (Conv 3×3, 32 filters, BatchNorm, ReLU), MaxPool 2×2"``. The input layer
    is the first row.
    """
    rows = [("input image", _shape(network.input.shape))]
    blocks: dict[str, list[keras.layers.Layer]] = {}
    order: list[str | keras.layers.Layer] = []
    for layer in network.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        match = re.match(r"(block\d+)_", layer.name)
        if match:
            if match.group(1) not in blocks:
                blocks[match.group(1)] = []
                order.append(match.group(1))
            blocks[match.group(1)].append(layer)
        else:
            order.append(layer)

    for item in order:
        if isinstance(item, str):
            rows.append((_describe_block(item, blocks[item]), _shape(blocks[item][-1].output.shape)))
        else:
            rows.append((_describe_layer(item), _shape(item.output.shape)))
    return rows


def _shape(shape) -> str:
    return " × ".join(str(side) for side in tuple(shape)[1:])


def _describe_block(name: str, layers: list[keras.layers.Layer]) -> str:
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    pools = [layer for layer in layers if isinstance(layer, keras.layers.MaxPooling2D)]
    kernel = "×".join(str(side) for side in convs[0].kernel_size)
    text = f"{name.replace('block', 'block ')}: {len(convs)} × (Conv {kernel}, {convs[0].filters} filters, BatchNorm, ReLU)"
    if pools:
        text += f", MaxPool {'×'.join(str(side) for side in pools[0].pool_size)}"
    return text


def _describe_layer(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.Dense):
        return f"Dense, {layer.units} units"
    if isinstance(layer, keras.layers.Dropout):
        return f"Dropout, rate {layer.rate:g}"
    if isinstance(layer, keras.layers.UnitNormalization):
        return "UnitNormalization (embedding of length 1)"
    return f"{type(layer).__name__} ({layer.name})"


def plot_siamese_diagram(network: keras.Model):
    """Draw the embedding network's layer stack beside the two-input Siamese arrangement.

    Args:
        network: the embedding network (``build_embedding_network`` or
            ``embedding_network_of(model)``).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rows = layer_groups(network)
    figure, (stack_axis, pair_axis) = plt.subplots(
        1, 2, figsize=(13, 0.62 * len(rows) + 1.2), gridspec_kw={"width_ratios": [1.6, 1]}
    )

    def box(axis, x, y, width, height, text, colour, size=9):
        axis.add_patch(FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02",
            facecolor=colour, edgecolor="black", linewidth=0.8,
        ))
        axis.text(x, y, text, ha="center", va="center", fontsize=size)

    def arrow(axis, start, end):
        axis.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=0.8))

    count = len(rows)
    for index, (text, shape) in enumerate(rows):
        y = count - index
        colour = "#dbe9f6" if text.startswith("block") else "#f2f2f2"
        box(stack_axis, 0.42, y, 0.8, 0.62, text, colour)
        stack_axis.text(0.9, y, shape, ha="left", va="center", fontsize=9, family="monospace")
        if index:
            arrow(stack_axis, (0.42, y + 0.69), (0.42, y + 0.31))
    stack_axis.text(0.9, count + 0.75, "output shape", ha="left", fontsize=9, style="italic")
    stack_axis.set_xlim(0, 1.2)
    stack_axis.set_ylim(0.4, count + 1.0)
    stack_axis.set_title(f"Embedding network ({network.count_params():,} parameters)")
    stack_axis.axis("off")

    embedding = rows[-1][1]
    for x, name in [(0.2, "image_a"), (0.8, "image_b")]:
        box(pair_axis, x, 4.0, 0.3, 0.5, f"{name}\n{rows[0][1]}", "#f2f2f2")
        box(pair_axis, x, 2.6, 0.3, 0.7, f"embedding\nnetwork\n→ {embedding}", "#dbe9f6")
        arrow(pair_axis, (x, 3.75), (x, 2.95))
        arrow(pair_axis, (x, 2.25), (0.5 + (x - 0.5) * 0.35, 1.5))
    pair_axis.plot([0.36, 0.64], [2.6, 2.6], linestyle=":", color="black", linewidth=0.8)
    pair_axis.text(0.5, 2.7, "shared weights", ha="center", va="bottom", fontsize=9, style="italic")
    box(pair_axis, 0.5, 1.2, 0.55, 0.55, "EuclideanDistance\n‖a − b‖ → (batch, 1)", "#fde3c8")
    pair_axis.set_xlim(0, 1)
    pair_axis.set_ylim(0.6, 4.6)
    pair_axis.set_title("Siamese pair model")
    pair_axis.axis("off")

    figure.tight_layout()
    return figure
