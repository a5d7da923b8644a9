"""The SAGAN networks, built from sagan_tf.layers and one architecture table per resolution
(sagan_tf.architectures)."""

from sagan_tf.models.build import build_discriminator, build_generator, build_models, clone
from sagan_tf.models.discriminator import Discriminator
from sagan_tf.models.generator import Generator

__all__ = ["build_discriminator", "build_generator", "build_models", "clone", "Discriminator",
           "Generator"]
