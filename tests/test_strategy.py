"""Strategy flags: TF_CONFIG is checked with one clear line before TensorFlow reads it."""

import json

import pytest

from sagan_tf.training import strategy as strategy_lib

CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("text, match", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{bad", "TF_CONFIG is not valid JSON"),
    (json.dumps({"cluster": CLUSTER}), 'TF_CONFIG needs {"cluster"'),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}),
     r"task type 'chief' is not a job of its cluster \['worker'\]"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}),
     r"task index 2 is outside the cluster: job 'worker' has 2 address\(es\), so the index "
     r"must be in 0..1"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": -1}}), "index -1"),
])
def test_bad_tf_config_is_named(text, match):
  with pytest.raises(ValueError, match=match):
    strategy_lib.check_tf_config(text)


def test_good_tf_config_passes():
  strategy_lib.check_tf_config(json.dumps(
      {"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}))
