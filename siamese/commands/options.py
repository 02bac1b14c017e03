"""Command-line options shared by ``train`` and ``compare``."""

from __future__ import annotations

import argparse


def _integer_at_least(text: str, minimum: int, expected: str) -> int:
    """Parse ``text`` as an integer of at least ``minimum``; ``expected`` names the range in errors."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _integer_at_least(text, 0, "0 or a positive integer")


def seed_value(text: str) -> int:
    """Parse a random seed: an integer from 0 to 2**32 - 1, 32-bit seeds that NumPy and TensorFlow both accept."""
    value = _integer_at_least(text, 0, "a seed from 0 to 4294967295")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 4294967295; received {text!r}")
    return value


def _float_in_range(text: str, minimum: float, inclusive: bool, expected: str) -> float:
    """Parse ``text`` as a finite float above ``minimum`` (or equal to it when ``inclusive``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}") from None
    above = value >= minimum if inclusive else value > minimum
    if not (above and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}")
    return value


def positive_float(text: str) -> float:
    return _float_in_range(text, 0.0, False, "a positive finite number")


def non_negative_float(text: str) -> float:
    return _float_in_range(text, 0.0, True, "0 or a positive finite number")


def factor_above_one(text: str) -> float:
    """Parse a growth factor such as the detector's ``--scale-factor``: finite and above 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number greater than 1, such as 1.1; received {text!r}")
    return value


#: Largest --image-size side, in pixels. The AT&T images are 112x92, and the flattened features
#: (and the dense layer that reads them) grow with the area, so 100000x100000 would exhaust
#: memory before any message could be printed.
MAX_IMAGE_SIDE = 512


def image_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", " ").replace(",", " ").split()
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH in pixels such as 56x46; received {text!r}")
    height, width = int(parts[0]), int(parts[1])
    if max(height, width) > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_IMAGE_SIDE} pixels a side (the AT&T images are 112x92); received {text!r}"
        )
    return height, width


def add_training_options(parser: argparse.ArgumentParser, *, single_optimizer: bool = True) -> None:
    """Add the training settings of :class:`~siamese.training.TrainConfig` to ``parser``."""
    from siamese.config import MAX_BATCH_IMAGES, MAX_BLENDED_IDENTITIES, MAX_EMBEDDING_DIM, OPTIMIZERS, TrainConfig

    defaults = TrainConfig()
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="training epochs (default: %(default)s)")
    group.add_argument(
        "--steps-per-epoch", type=positive_int, default=defaults.steps_per_epoch,
        help="batches per epoch (default: %(default)s)",
    )
    if single_optimizer:
        group.add_argument(
            "--optimizer", default=defaults.optimizer, type=str.lower, choices=OPTIMIZERS,
            help="optimizer (default: %(default)s)",
        )
        group.add_argument(
            "--learning-rate", type=positive_float, default=None,
            help="initial learning rate, decayed to 0 along a cosine (default: the optimizer's usual rate)",
        )
    group.add_argument("--seed", type=seed_value, default=defaults.seed, help="seed for weights, batches and augmentation (default: %(default)s)")
    group.add_argument(
        "--image-size", type=image_size, default=defaults.image_size,
        help="network input HEIGHTxWIDTH in pixels (default: %s)" % "x".join(map(str, defaults.image_size)),
    )
    group.add_argument("--margin", type=positive_float, default=defaults.margin, help="contrastive-loss margin (default: %(default)s)")
    group.add_argument(
        "--embedding-dim", type=positive_int, default=defaults.embedding_dim,
        help=f"length of the embedding that the losses train, at most {MAX_EMBEDDING_DIM} and at most the "
        "network's flattened features (default: %(default)s). Unless --no-projection is given, "
        "the discriminant projection sets the saved model's length",
    )
    group.add_argument(
        "--identities-per-batch", type=positive_int, default=defaults.identities_per_batch,
        help="people per batch, at most the training identities, blended ones included; a batch "
        f"holds at most {MAX_BATCH_IMAGES} images (default: %(default)s)",
    )
    group.add_argument(
        "--images-per-identity", type=positive_int, default=defaults.images_per_identity,
        help="images of each person per batch, from 2 to the maximum image count of a training person "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--identification-weight", type=non_negative_float, default=defaults.identification_weight,
        help="weight of the auxiliary loss that classifies the training identities beside the "
        "contrastive loss; 0 trains on the contrastive loss alone (default: %(default)s)",
    )
    group.add_argument(
        "--no-projection", action="store_true",
        help="keep the network's own embeddings instead of appending the linear discriminant "
        "projection fitted on the training identities",
    )
    group.add_argument(
        "--blended-identities", type=non_negative_int, default=defaults.blended_identities, metavar="N",
        help="synthetic training identities, each made of pixel averages of two training people's "
        f"images; 0 trains on the real people alone, at most {MAX_BLENDED_IDENTITIES} (default: %(default)s)",
    )
    group.add_argument("--no-augment", action="store_true", help="train without random augmentation")
    quiet_help = (
        "print one line per epoch instead of a progress bar"
        if single_optimizer
        else "hide the progress bar over runs (each run trains silently)"
    )
    group.add_argument("--quiet", action="store_true", help=quiet_help)


def training_config(args: argparse.Namespace, **overrides):
    """Build a :class:`~siamese.training.TrainConfig` from parsed options."""
    from siamese.config import TrainConfig

    settings = {
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "seed": args.seed,
        "image_size": args.image_size,
        "margin": args.margin,
        "embedding_dim": args.embedding_dim,
        "identities_per_batch": args.identities_per_batch,
        "images_per_identity": args.images_per_identity,
        "identification_weight": args.identification_weight,
        "augment": not args.no_augment,
        "discriminant_projection": not args.no_projection,
        "blended_identities": args.blended_identities,
    }
    if hasattr(args, "optimizer"):
        settings["optimizer"] = args.optimizer
        settings["learning_rate"] = args.learning_rate
    settings.update(overrides)
    return TrainConfig(**settings)
