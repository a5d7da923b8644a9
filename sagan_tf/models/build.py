"""The networks a config describes (sagan_tf.config's keys), and copies of a built network."""

from sagan_tf.models.discriminator import Discriminator
from sagan_tf.models.generator import Generator


def build_generator(config, build=True):
  """Returns the Generator a config describes; with build=True all its weights exist."""
  g = Generator(config.resolution, ch=config.g_ch, z_dim=config.z_dim,
                num_classes=config.num_classes, attention_resolutions=config.g_attention,
                sn_power_iterations=config.sn_power_iterations,
                sn_stop_gradient=config.sn_stop_gradient, bn_momentum=config.bn_momentum,
                head_bn_momentum=config.head_bn_momentum,
                cross_replica_bn=config.cross_replica_bn, attention_impl=config.attention_impl,
                attention_query_block=config.attention_query_block,
                spectral_norm=config.g_spectral_norm)
  return g.build_weights() if build else g


def build_discriminator(config, build=True):
  """Returns the Discriminator a config describes; with build=True all its weights exist."""
  d = Discriminator(config.resolution, ch=config.d_ch, num_classes=config.num_classes,
                    attention_resolutions=config.d_attention,
                    sn_power_iterations=config.sn_power_iterations,
                    sn_stop_gradient=config.sn_stop_gradient,
                    attention_impl=config.attention_impl,
                    attention_query_block=config.attention_query_block)
  return d.build_weights() if build else d


def build_models(config, build=True):
  """Returns (generator, discriminator) for a config; with build=True all weights exist."""
  return build_generator(config, build), build_discriminator(config, build)


def clone(model, **changes):
  """A new built model of model's class and config, with `changes` applied to the config
  (e.g. num_classes=3). Weights are new (initialised, not copied); variables are plain ones,
  outside any tf.distribute strategy when called outside a scope. The copy takes the global
  dtype policy (float32 unless set), as a model restored from a checkpoint does, so sampling
  copies compute as restored models do, whatever precision trained the original."""
  return type(model).from_config({**model.get_config(), "dtype": None, **changes}).build_weights()
