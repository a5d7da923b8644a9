"""TF Serving warm-up requests (assets.extra/tf_serving_warmup_requests).

A TFRecord file of tensorflow.serving.PredictionLog records, each holding a PredictRequest that
TF Serving replays once when it loads the version, so the first real request does not pay for
graph initialization. Needs the tensorflow-serving-api package (pip install sagan_tf[serving]).
"""

import numpy as np
import tensorflow as tf

try:  # optional: pip install sagan_tf[serving] (requirements.txt installs it)
  from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
except ImportError:
  model_pb2 = predict_pb2 = prediction_log_pb2 = None

WARMUP_FILE = "tf_serving_warmup_requests"


def _require_serving_api():
  if prediction_log_pb2 is None:
    raise ValueError("Warm-up requests need the tensorflow-serving-api package: "
                     "pip install 'sagan_tf[serving]' (or drop --warmup).")


def warmup_requests(model_name, z_dim, num_classes, batch_size=2):
  """Returns PredictionLog protos: one request per signature, batch_size rows each."""
  _require_serving_api()
  labels = (np.arange(batch_size) % max(num_classes, 1)).astype(np.int32)
  z = np.zeros([batch_size, z_dim], np.float32)
  inputs_by_signature = {
      "serving_default": {"z": z, "labels": labels},
      "generate_from_seed": {"seed": np.int64(0), "labels": labels,
                             "truncation": np.float32(0.0)},
      "generate_with_attention": {"z": z, "labels": labels},
  }
  logs = []
  for signature, inputs in inputs_by_signature.items():
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    logs.append(prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)))
  return logs


def write_warmup_requests(path, model_name, z_dim, num_classes, batch_size=2):
  """Writes the warm-up TFRecord file at `path`; returns the number of records."""
  logs = warmup_requests(model_name, z_dim, num_classes, batch_size)
  with tf.io.TFRecordWriter(path) as writer:
    for log in logs:
      writer.write(log.SerializeToString())
  return len(logs)


def read_warmup_requests(path):
  """Parses a warm-up file back into PredictionLog protos."""
  _require_serving_api()
  logs = []
  for record in tf.data.TFRecordDataset(path):
    log = prediction_log_pb2.PredictionLog()
    log.ParseFromString(record.numpy())
    logs.append(log)
  return logs
