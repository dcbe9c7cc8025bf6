"""The chapter's parts, in its order: the report groups experiments by them.

An experiment's group comes from its `chapter:` section number alone (31.8.4 -> 31.8), so a new
experiment lands in the right place without any report code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    key: str      # "31.5": the section prefix, also the HTML anchor (group-31-5)
    title: str

    @property
    def anchor(self) -> str:
        return "group-" + self.key.replace(".", "-")


GROUPS = [
    Group("31.1", "Tensors"),
    Group("31.2", "Deep networks"),
    Group("31.3", "Regularization"),
    Group("31.4", "Optimizers (variants of stochastic gradient descent)"),
    Group("31.5", "Convolutional networks"),
    Group("31.6", "Recurrent networks and music"),
    Group("31.7", "GAN, autoencoders and transformers"),
    Group("31.8", "Additional examples"),
    Group("31.9", "Exercises"),
]
OTHER = Group("other", "Other")


def group_of(section: str) -> Group:
    """31.8.4 -> Additional examples; a section outside the list -> Other."""
    for g in GROUPS:
        if section == g.key or section.startswith(g.key + "."):
            return g
    return OTHER


def section_key(section: str) -> tuple:
    """Sort key that puts 31.2.10 after 31.2.9."""
    return tuple(int(p) if p.isdigit() else 10**6 for p in section.split("."))
