"""The SAGAN networks, built from sagan_tf.layers and one architecture table per resolution."""

from sagan_tf.models.architectures import SUPPORTED_RESOLUTIONS
from sagan_tf.models.discriminator import Discriminator
from sagan_tf.models.generator import Generator

__all__ = ["Discriminator", "Generator", "SUPPORTED_RESOLUTIONS"]
