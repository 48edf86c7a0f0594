"""Tasks: what differs between GAN families in how a trained model is used.

A variant registers the task it performs (``Variant.task``: "sample", "translate", or a Task
subclass of a third-party plugin as "module:Class"); ``task_for(variant, config)`` turns that into
the task of one model. The shared code (GanModel, the engine, published folders, evaluation, the
bench, the CLI, the conformance kit) asks the task which networks generate, how to draw a preview
picture, which inputs a generator takes and which metrics fit; none of it tests a family's name,
a data kind, a class count or a network name. Importing this module does not import torch.

- ``Sampling``: noise -> images, unconditional or class-conditional (``num_classes`` > 0, a property).
- ``Points``: noise -> flat vectors (2D mixtures): previews and evaluations draw 2,500 points.
- ``Translation``: images of domain A -> B, and back where the model has ``G_BA`` (CycleGAN; pix2pix goes one way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

    from .registry import Variant

POINTS_SAMPLES = 2500  # the VEEGAN/PacGAN protocol's sample count, also the points preview


@dataclass(frozen=True)
class Preview:
    """A picture of what a model does: images (N, C, H, W) or points (N, D), and how many per grid row."""

    images: Any  # torch.Tensor
    nrow: int | None = None  # None: a square grid


class Task:
    """Base class: a task knows its generators, inputs, preview, card text and default metrics."""

    name: ClassVar[str] = ""  # the name a variant registers it by
    pipeline_tag: ClassVar[str] = ""  # the Hugging Face Hub pipeline tag of its model cards
    data_kinds: ClassVar[tuple[str, ...]] = ()  # data kinds whose runs it serves (first: its own)
    default_metrics: ClassVar[tuple[str, ...]] = ()  # what `ganzoo bench` / `ganzoo eval` score by default
    bench_metrics: ClassVar[tuple[str, ...]] = ()  # what `ganzoo bench` adds by default (conditional models' only
    #                                                 where the metric says so: the bench drops them for the others)
    samples: ClassVar[bool] = False  # generates from noise: model.sample, walks, eval of samples
    translates: ClassVar[bool] = False  # maps images to images: model.translate
    flat: ClassVar[bool] = False  # generates flat vectors (N, D), not images (N, C, H, W)
    evaluation_samples: ClassVar[int | None] = None  # samples an evaluation draws by default (None: the metrics')

    num_classes: int = 0  # 0: unconditional
    classes: tuple[str, ...] = ()  # names of classes 0..K-1, where known

    @classmethod
    def for_config(cls, config: Any, classes: Any = None) -> Task:
        """The task of one model with ``config``; built-in tasks look at the config's data shape and classes."""
        return cls()

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @classmethod
    def eval_metrics(cls, data_name: str) -> tuple[str, ...]:
        """What `ganzoo eval` scores by default on the data spec named ``data_name``."""
        return cls.default_metrics

    def generators(self, nets: Any) -> list[str]:
        """The networks, of those named in ``nets``, needed to generate (what a published folder keeps)."""
        raise NotImplementedError

    def required_generators(self) -> list[str]:
        """The generator networks every model of this task builds (a variant's build must return them)."""
        raise NotImplementedError

    def preview(self, model: Any, *, seed: int, n: int, inputs: Any = None) -> Preview | None:
        """A picture of the model at work, or None when it needs inputs that are not given."""
        raise NotImplementedError

    def usage(self, name: str) -> list[str]:
        """Python lines for a model card's "Use" section."""
        return [f'model = ganzoo.load("{name}")']

    def card_notes(self) -> list[str]:
        """Extra model-card lines (the class list of a conditional model, say)."""
        return []

    def batch_labels(self, dataset: Any, run: str) -> Any:
        """The labels a run's batches carry beside the images, or None for batches of images alone."""
        return None

    def data_classes(self, dataset: Any, spec: str, recorded: list | None = None) -> list[str] | None:
        """The class names of ``dataset`` that a model of this task trains on; None for a task without classes."""
        return None


class Sampling(Task):
    """Noise -> images; conditional when ``num_classes`` > 0 (then every draw takes a class label)."""

    name = "sample"
    pipeline_tag = "unconditional-image-generation"
    data_kinds = ("image",)
    default_metrics = ("mnist_digits",)
    bench_metrics = ("class_diversity",)  # every conditional bar has a diversity term
    samples = True
    JUDGED_DATA: ClassVar[tuple[str, ...]] = ("mnist-5k", "mnist")  # data whose images the bundled digit judge reads
    REFERENCE_METRICS: ClassVar[tuple[str, ...]] = ("fid", "kid", "precision_recall")  # eval on other images

    def __init__(self, num_classes: int = 0, classes: Any = None):
        self.num_classes = int(num_classes)
        self.classes = tuple(classes or ())

    @classmethod
    def for_config(cls, config: Any, classes: Any = None) -> Task:
        from .config import is_conditional

        if cls is Sampling and getattr(config, "dim", 0):  # flat data vectors, not images
            return Points()
        return cls(config.num_classes if is_conditional(config) else 0, classes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_classes={self.num_classes})"

    @classmethod
    def eval_metrics(cls, data_name: str) -> tuple[str, ...]:
        """The digit judge on digits, else FID, KID and precision/recall against the reference images."""
        return cls.default_metrics if data_name in cls.JUDGED_DATA else cls.REFERENCE_METRICS

    def generators(self, nets: Any) -> list[str]:
        return [n for n in nets if n == "G"]

    def required_generators(self) -> list[str]:
        return ["G"]

    def preview(self, model: Any, *, seed: int, n: int, inputs: Any = None) -> Preview:
        if self.conditional and self.num_classes <= n:  # one row per class
            per_class = n // self.num_classes
            return Preview(model.class_grid(per_class, seed=seed), per_class)
        if self.conditional:  # more classes than images (ImageNet's 1,000): one image each of n spread-out classes
            return Preview(model.sample(n, seed=seed, labels=[i * self.num_classes // n for i in range(n)]))
        return Preview(model.sample(n, seed=seed))

    def generator_inputs(self, latent_shape: tuple, n: int, rng: Any, device: Any) -> tuple:
        """Random inputs for the generator: (z,) or (z, labels) uniform over the classes, drawn from ``rng``."""
        import torch

        z = torch.randn((n, *latent_shape), generator=rng, device=device)
        if not self.conditional:
            return (z,)
        return z, torch.randint(0, self.num_classes, (n,), generator=rng, device=device)

    def evaluation_labels(self, n: int) -> list[int] | None:
        """Labels of the samples an evaluation draws: every class alike (sample i asks for class i mod K)."""
        return [i % self.num_classes for i in range(n)] if self.conditional else None

    def evaluation_labels_note(self) -> str | None:
        """How ``evaluation_labels`` picks the classes, for an evaluation's protocol record."""
        return f"sample i asks for class i mod {self.num_classes}" if self.conditional else None

    def batch_labels(self, dataset: Any, run: str) -> Any:
        """The labels a conditional run's batches carry ((images, labels) batches), or None for images alone."""
        if not self.conditional:
            return None
        labels = getattr(dataset, "labels", None)
        if labels is None:
            raise ValueError(
                f"a conditional run ({self.num_classes} classes) needs class labels, and the data "
                f"{run!r} has none; train with -c num_classes=0 or use labelled data"
            )
        return labels

    def generator_problem(self, G: Any) -> str | None:
        """What is wrong with generator ``G`` for this task, or None: a conditional G declares its class count
        (``G.num_classes``) equal to the config's, so a network built for other classes is caught at once."""
        declared = getattr(G, "num_classes", 0)
        if self.conditional and declared != self.num_classes:
            return f"a conditional G needs num_classes = config.num_classes ({self.num_classes}), got {declared!r}"
        return None

    def fake_labels(self, n: int, device: Any) -> torch.Tensor:
        """(n,) class labels for generated samples, from torch's global generator (checkpointed, so resume is exact)."""
        import torch

        if not self.conditional:
            raise RuntimeError("fake_labels() is for conditional generators: this model has no classes")
        return torch.randint(0, self.num_classes, (n,), device=device)

    def usage(self, name: str) -> list[str]:
        lines = [*super().usage(name), "images = model.sample(16, seed=0)  # (16, C, H, W) in [-1, 1]"]
        if self.conditional:
            first = f'"{self.classes[0]}"' if self.classes else "0"
            lines.append(f"images = model.sample(16, seed=0, labels={first})  # one class, by index or name")
        return lines

    def card_notes(self) -> list[str]:
        if not self.conditional:
            return []
        names = ", ".join(f"{i} = `{c}`" for i, c in enumerate(self.classes)) if self.classes else "unnamed"
        return [f"Class-conditional, {self.num_classes} classes: {names}.", ""]

    def data_classes(self, dataset: Any, spec: str, recorded: list | None = None) -> list[str] | None:
        """The class names of ``dataset`` that a conditional model trains on (checked against the class count
        and a resumed run's record); None for an unconditional one."""
        from .config import ConfigError

        if not self.conditional:
            return None
        classes = getattr(dataset, "classes", None)
        if getattr(dataset, "labels", None) is None or not classes:
            raise ConfigError(
                f"a conditional run (num_classes={self.num_classes}) needs class labels, and {spec!r} "
                f"has none (an image folder has them when each class is a subfolder, an hf: data set "
                f"in a ClassLabel column or the one --label-column names); train unconditionally "
                f"with -c num_classes=0"
            )
        if recorded is not None and recorded not in (None, list(classes)):
            raise ConfigError(
                f"{spec!r} now has classes {list(classes)}, but the run was trained on "
                f"{recorded}; resume on the same data"
            )
        if self.num_classes != len(classes):
            raise ConfigError(
                f"num_classes={self.num_classes}, but {spec!r} has {len(classes)} classes "
                f"({', '.join(map(str, classes[:12]))}{', ...' if len(classes) > 12 else ''}): "
                f"use -c num_classes={len(classes)}"
            )
        return list(classes)


class Points(Sampling):
    """Noise -> flat vectors (2D mixtures): unbounded outputs, 2,500-point previews and evaluations."""

    name = "sample"
    pipeline_tag = "unconditional-image-generation"
    data_kinds = ("points",)
    default_metrics = ("modes",)
    bench_metrics = ()
    flat = True
    evaluation_samples = POINTS_SAMPLES

    @classmethod
    def eval_metrics(cls, data_name: str) -> tuple[str, ...]:
        return cls.default_metrics

    def __init__(self, num_classes: int = 0, classes: Any = None):
        super().__init__(0, None)

    def preview(self, model: Any, *, seed: int, n: int, inputs: Any = None) -> Preview:
        return Preview(model.sample(POINTS_SAMPLES, seed=seed))

    def usage(self, name: str) -> list[str]:
        return [*Task.usage(self, name), "points = model.sample(2500, seed=0)  # (2500, D)"]


class Translation(Task):
    """Images of domain A -> domain B with ``G_AB``; back with ``G_BA`` where the model has it."""

    name = "translate"
    pipeline_tag = "image-to-image"
    data_kinds = ("unpaired", "paired")
    default_metrics = ("translation",)
    translates = True
    DIRECTIONS: ClassVar[dict[str, str]] = {"a2b": "G_AB", "b2a": "G_BA"}  # direction -> generator

    def __repr__(self) -> str:
        return "Translation()"

    def generators(self, nets: Any) -> list[str]:
        return [g for g in self.DIRECTIONS.values() if g in nets]

    def required_generators(self) -> list[str]:
        return [self.DIRECTIONS["a2b"]]  # every translator goes A to B; back only where it has the network

    def directions(self, nets: Any) -> list[str]:
        """The directions a model with networks ``nets`` translates: ["a2b"] or ["a2b", "b2a"]."""
        return [d for d, g in self.DIRECTIONS.items() if g in nets]

    def generator(self, nets: Any, direction: str, variant: str = "model") -> str:
        """The network that translates in ``direction``; a clear ValueError for a direction it lacks."""
        if direction not in self.DIRECTIONS:
            raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        name = self.DIRECTIONS[direction]
        if name not in nets:
            raise ValueError(
                f"this {variant} model translates one way only, A to B ('a2b'): it has no {name}; "
                f"train a model on the data with A and B swapped to go back"
            )
        return name

    def preview(self, model: Any, *, seed: int, n: int, inputs: Any = None) -> Preview | None:
        if inputs is None:
            return None  # a published translator has no input images of its own
        import torch

        a = inputs[0] if isinstance(inputs, (tuple, list)) else inputs  # (B, C, H, W) of domain A
        return Preview(torch.cat([a, model.translate(a, "a2b")]))

    def usage(self, name: str) -> list[str]:
        return [
            *super().usage(name),
            'y = model.translate(x, direction="a2b")  # (B, C, H, W) in [-1, 1]',
            'image = model.translate("photo.jpg")  # any image file or PIL image: a PIL image at the model\'s side',
        ]


TASKS: dict[str, type[Task]] = {"sample": Sampling, "translate": Translation}  # built-in tasks by name
DATA_KIND_TASKS: dict[str, type[Task]] = {k: t for t in (Sampling, Points, Translation) for k in t.data_kinds}


def task_class(variant: Variant) -> type[Task]:
    """The Task class a variant registered: a built-in name, a Task subclass, or its "module:Class" reference."""
    from .registry import PluginError, resolve_ref

    ref = variant.task
    if isinstance(ref, str) and ref in TASKS:
        return TASKS[ref]
    try:
        cls = resolve_ref(ref)
    except Exception as exc:
        raise PluginError(
            f"variant {variant.name!r} from plugin {variant.plugin!r}: its task {ref!r} is neither "
            f"{' nor '.join(repr(t) for t in TASKS)} nor a loadable Task class ({exc})"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PluginError(
            f"variant {variant.name!r} from plugin {variant.plugin!r}: its task {ref!r} must be "
            f"{' or '.join(repr(t) for t in TASKS)} or a ganzoo.tasks.Task subclass"
        )
    return cls


def task_for(variant: Variant, config: Any, classes: Any = None) -> Task:
    """The task of one model of ``variant`` with ``config`` (class names where the data had them)."""
    return task_class(variant).for_config(config, classes)


def for_data_kind(kind: str) -> type[Task]:
    """The task class that serves data of ``kind`` (its default metrics, say), for a data spec alone."""
    try:
        return DATA_KIND_TASKS[kind]
    except KeyError:
        raise ValueError(f"no task serves {kind!r} data; the data kinds are {', '.join(DATA_KIND_TASKS)}") from None


def fit_config_to_data(config: Any, kind: str, dataset: Any, overrides: dict, spec: str = "the data") -> Any:
    """The config a run trains with on ``dataset``: flat data sets ``dim`` to the vectors' length when left at 0."""
    import dataclasses

    from .config import ConfigError

    if DATA_KIND_TASKS.get(kind) is not Points or getattr(config, "dim", None) != 0:  # a plugin's own kinds pass
        return config
    if "dim" in overrides:
        raise ConfigError(f"{spec!r} is flat data: dim must be its length, not 0")
    return dataclasses.replace(config, dim=int(dataset.tensor.shape[1]))
