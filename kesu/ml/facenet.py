"""dlib's face embedding network run by ONNX Runtime: the same weights, ~15x faster.

dlib_face_recognition_resnet_model_v1.dat (inside the face_recognition_models package) is dlib's own
binary serialisation of ``anet_type`` from dlib's examples/dnn_face_recognition_ex.cpp. It is read
here, at run time and in memory (~0.1 s, once per process), into an ONNX graph of the same layers;
nothing is downloaded or written. dlib takes ~56 ms a face here, ONNX Runtime ~3-4 ms on one thread
(bench/facenet.py). The embeddings equal dlib's to float rounding (~1e-6 apart, tests/test_facenet.py),
so the calibration and MATCH_DISTANCE measured with dlib stay valid.

How dlib computes (dlib/dnn/*.h, read for this): a convolution pads by half its size at stride 1
and not at all at stride 2; pools likewise, and an average never counts padding; the input layer
feeds ``(pixel - channel mean) / 256``; ``affine`` is a frozen batch norm (``gamma * x + beta`` per
channel); ``add_prev`` adds tensors of different sizes as if the smaller were zero-padded at the end
(the network's down-sampling blocks add 3x3 to 4x4 and 128 to 256 channels); ``fc`` multiplies by an
(inputs, outputs) matrix; the metric loss outputs the fc's result unchanged.
"""

import math
import threading
from dataclasses import dataclass

import face_recognition_models
import numpy as np

from kesu.lib import threads as native_threads

INPUT_SIZE = 150  # input_rgb_image_sized<150>
# Threads: KESU_WORKER_THREADS (kesu/lib/threads.py), one by default. On this 2-core machine two were never
# faster (bench/facenet.py: 3.0 ms a face on one, 5-8 ms on two, the second thread waiting for a core
# something else holds): workers run in several processes, and YOLO's sessions and the web want the cores too.

Op = tuple  # (kind, *arguments), one of dlib's layer wrappers in forward order


# -- the network's structure (dnn_face_recognition_ex.cpp), input first ----------------------------


def _block(filters: int, stride: int) -> list[Op]:
    return [("con", filters, stride), ("affine",), ("relu",), ("con", filters, 1), ("affine",)]


def _ares(filters: int) -> list[Op]:
    return [("tag", 1), *_block(filters, 1), ("add_prev", 1), ("relu",)]


def _ares_down(filters: int) -> list[Op]:
    # add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<SUBNET>>>>>>: the block's output plus
    # the block's input, averaged down to the same grid
    return [("tag", 1), *_block(filters, 2), ("tag", 2), ("skip", 1), ("avg_pool", 2, 2), ("add_prev", 2), ("relu",)]


def _levels() -> list[Op]:
    ops: list[Op] = [*_ares(32), *_ares(32), *_ares(32)]
    for filters, plain in ((64, 3), (128, 2), (256, 2), (256, 0)):
        ops += _ares_down(filters)
        for _ in range(plain):
            ops += _ares(filters)
    return ops


ARCHITECTURE: list[Op] = [
    ("con", 32, 2),  # con<32,7,7,2,2>: the only 7x7 one, the others are 3x3
    ("affine",),
    ("relu",),
    ("max_pool", 3, 2),
    *_levels(),
    ("avg_pool", 0, 1),  # avg_pool_everything
    ("fc", 128),  # fc_no_bias<128>
]


# -- dlib's serialisation (dlib/serialize.h) ------------------------------------------------------


class FormatError(ValueError):
    """The .dat file is not the network this module knows."""


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise FormatError("the model file ends early")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def int(self) -> int:
        """dlib's integer: a control byte (0x80 = negative, low 4 bits = length), then little-endian bytes."""
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise FormatError("bad integer in the model file")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return math.ldexp(mantissa, self.int())

    def bool(self) -> bool:
        char = bytes(self.take(1))
        if char not in (b"0", b"1"):
            raise FormatError("bad boolean in the model file")
        return char == b"1"

    def string(self) -> str:
        return bytes(self.take(self.int())).decode("ascii", errors="replace")

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise FormatError("unknown tensor version in the model file")
        shape = tuple(self.int() for _ in range(4))
        return np.frombuffer(self.take(4 * math.prod(shape)), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            raise FormatError("unknown alias tensor version in the model file")
        return tuple(self.int() for _ in range(4))

    def expect(self, *versions: str) -> str:
        version = self.string()
        if version not in versions:
            raise FormatError(f"found layer {version!r} where {versions[0]!r} was expected")
        return version


@dataclass
class Layer:
    """One add_layer's parameters, as dlib holds them for inference."""

    op: Op
    weights: np.ndarray | None = None  # con: (out, in, rows, cols); fc: (inputs, outputs); affine: gamma
    bias: np.ndarray | None = None  # con: (out,); fc: (outputs,); affine: beta
    relu: bool = False  # a con with dlib's fused relu
    disabled: bool = False  # an affine or relu dlib turned off (identity)
    stride: int = 1
    padding: tuple[int, int] = (0, 0)
    window: tuple[int, int] = (0, 0)


def _con(r: _Reader, op: Op) -> Layer:
    version = r.expect("con_4", "con_5", "con_6")
    params = r.tensor().ravel()
    filters, rows, cols, stride_y, stride_x = r.int(), r.int(), r.int(), r.int(), r.int()
    padding = (r.int(), r.int())
    shape, bias_shape = r.alias(), r.alias()
    for _ in range(4):
        r.float()  # learning-rate and weight-decay multipliers
    use_bias = r.bool() if version in ("con_5", "con_6") else True
    relu = r.bool() if version == "con_6" else False
    if filters != op[1] or stride_y != stride_x or stride_y != op[2] or rows != cols:
        raise FormatError("a convolution differs from dnn_face_recognition_ex.cpp's")
    size = math.prod(shape)
    bias = params[size : size + math.prod(bias_shape)] if use_bias else None
    return Layer(op, params[:size].reshape(shape), bias, relu=relu, stride=stride_y, padding=padding)


def _affine(r: _Reader, op: Op) -> Layer:
    version = r.expect("affine_", "affine_2", "bn_con2", "bn_fc2")
    if version.startswith("bn_"):
        return _batch_norm(r, op)
    params = r.tensor().ravel()
    gamma, beta = r.alias(), r.alias()
    r.int()  # mode: CONV (per channel) or FC (per element); the shapes above say which
    disabled = r.bool() if version == "affine_2" else False
    size = math.prod(gamma)
    return Layer(op, params[:size].reshape(gamma), params[size : 2 * size].reshape(beta), disabled=disabled)


def _batch_norm(r: _Reader, op: Op) -> Layer:
    """A bn_ layer saved during training: frozen into gamma / sqrt(var + eps) and its beta, as dlib does."""
    params = r.tensor().ravel()
    gamma, beta = r.alias(), r.alias()
    r.tensor(), r.tensor()  # the last batch's means and inverse deviations
    means, variances = r.tensor().ravel(), r.tensor().ravel()
    r.int(), r.int()  # updates counted, running window
    for _ in range(4):
        r.float()
    eps = r.float()
    size = math.prod(gamma)
    scale = params[:size] / np.sqrt(variances + np.float32(eps))
    shift = params[size : 2 * size] - scale * means
    return Layer(op, scale.reshape(gamma).astype(np.float32), shift.reshape(beta).astype(np.float32))


def _relu(r: _Reader, op: Op) -> Layer:
    version = r.expect("relu_", "relu_2")
    return Layer(op, disabled=r.bool() if version == "relu_2" else False)


def _pool(r: _Reader, op: Op) -> Layer:
    r.expect("max_pool_2" if op[0] == "max_pool" else "avg_pool_2")
    window = (r.int(), r.int())
    stride_y, stride_x = r.int(), r.int()
    padding = (r.int(), r.int())
    if window != (op[1], op[1]) or stride_y != stride_x or stride_y != op[2]:
        raise FormatError("a pooling layer differs from dnn_face_recognition_ex.cpp's")
    return Layer(op, stride=stride_y, padding=padding, window=window)


def _fc(r: _Reader, op: Op) -> Layer:
    version = r.expect("fc_2", "fc_3")
    outputs, inputs = r.int(), r.int()
    params = r.tensor().ravel()
    shape, bias_shape = r.alias(), r.alias()
    has_bias = r.int() == 0  # fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    for _ in range(4):
        r.float()
    if version == "fc_3":
        has_bias = r.bool() and has_bias
    if outputs != op[1] or shape[:2] != (inputs, outputs):
        raise FormatError("the fc layer differs from dnn_face_recognition_ex.cpp's")
    size = math.prod(shape)
    bias = params[size : size + math.prod(bias_shape)] if has_bias else None
    return Layer(op, params[:size].reshape(inputs, outputs), bias)


def _add_prev(r: _Reader, op: Op) -> Layer:
    r.expect("add_prev_")
    return Layer(op)


_DETAILS = {"con": _con, "affine": _affine, "relu": _relu, "max_pool": _pool, "avg_pool": _pool}
_DETAILS |= {"fc": _fc, "add_prev": _add_prev}


@dataclass
class Network:
    means: tuple[float, float, float]  # the input layer's red, green, blue means
    layers: list[Layer]  # tags and skips included (no parameters), input first


def parse(data: bytes) -> Network:
    """The network in a dlib .dat file of ``loss_metric<...anet_type...>``.

    A wrapper writes its version, then what it wraps, then its own layer: so the file holds the
    loss, every wrapper's version from the outside in, the input layer, then each layer's
    parameters from the input out.
    """
    r = _Reader(data)
    _loss(r)
    versions = [r.int() for _ in ARCHITECTURE][::-1]
    r.expect("input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    if (r.int(), r.int()) != (INPUT_SIZE, INPUT_SIZE):
        raise FormatError("the input layer is not 150x150")
    layers = []
    for index, (op, version) in enumerate(zip(ARCHITECTURE, versions, strict=True)):
        if op[0] in ("tag", "skip"):
            layers.append(Layer(op))
            continue
        layers.append(_DETAILS[op[0]](r, op))
        _layer_state(r, version, first=index == 0)
    if r.pos != len(r.data):
        raise FormatError("the model file has more than anet_type")
    return Network(means, layers)


def _loss(r: _Reader) -> None:
    r.int()
    if r.expect("loss_metric_", "loss_metric_2") == "loss_metric_2":
        r.float(), r.float()  # margin, distance threshold: training only


def _layer_state(r: _Reader, version: int, *, first: bool) -> None:
    """What dlib's add_layer keeps beside the layer (training state, unused here)."""
    for _ in range(3):
        r.bool()
    r.tensor(), r.tensor()  # x_grad, cached output
    if first:  # the add_layer right on the input layer
        r.tensor()
        if version >= 3:
            r.int()
    elif version == 2:
        r.tensor()  # parameter gradients


# -- the ONNX graph --------------------------------------------------------------------------------


class _Graph:
    """Builds the ONNX graph while tracking each value's (channels, rows, columns)."""

    def __init__(self):
        self.nodes, self.initializers = [], []
        self.count = 0

    def constant(self, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = f"w{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        from onnx import helper

        self.count += 1
        name = f"{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name


Value = tuple[str, tuple[int, int, int]]  # ONNX name, (channels, rows, columns)


def _conv(g: _Graph, x: Value, layer: Layer) -> Value:
    name, (_, rows, cols) = x
    out, _, k, _ = layer.weights.shape
    py, px = layer.padding
    inputs = [name, g.constant(layer.weights)] + ([g.constant(layer.bias)] if layer.bias is not None else [])
    y = g.node("Conv", inputs, kernel_shape=[k, k], strides=[layer.stride] * 2, pads=[py, px, py, px])
    shape = (out, 1 + (rows + 2 * py - k) // layer.stride, 1 + (cols + 2 * px - k) // layer.stride)
    return (g.node("Relu", [y]) if layer.relu else y), shape


def _affine_node(g: _Graph, x: Value, layer: Layer) -> Value:
    if layer.disabled:
        return x
    scaled = g.node("Mul", [x[0], g.constant(layer.weights)])
    return g.node("Add", [scaled, g.constant(layer.bias)]), x[1]


def _pool_node(g: _Graph, x: Value, layer: Layer) -> Value:
    name, (channels, rows, cols) = x
    if layer.window == (0, 0):  # avg_pool_everything
        return g.node("GlobalAveragePool", [name]), (channels, 1, 1)
    k = layer.window[0]
    py, px = layer.padding
    op = "MaxPool" if layer.op[0] == "max_pool" else "AveragePool"
    extra = {} if op == "MaxPool" else {"count_include_pad": 0}  # dlib averages what is inside
    y = g.node(op, [name], kernel_shape=[k, k], strides=[layer.stride] * 2, pads=[py, px, py, px], **extra)
    return y, (channels, 1 + (rows + 2 * py - k) // layer.stride, 1 + (cols + 2 * px - k) // layer.stride)


def _padded(g: _Graph, x: Value, shape: tuple[int, int, int]) -> str:
    """``x`` zero-padded at the end of each axis up to ``shape``, as dlib's tt::add treats a smaller tensor."""
    name, have = x
    if have == shape:
        return name
    extra = [0, 0, 0, 0, 0, *(want - got for want, got in zip(shape, have, strict=True))]
    return g.node("Pad", [name, g.constant(np.array(extra, dtype=np.int64))])


def _add(g: _Graph, x: Value, other: Value) -> Value:
    shape = tuple(max(a, b) for a, b in zip(x[1], other[1], strict=True))
    return g.node("Add", [_padded(g, x, shape), _padded(g, other, shape)]), shape


def _fc_node(g: _Graph, x: Value, layer: Layer) -> Value:
    flat = g.node("Flatten", [x[0]], axis=1)
    y = g.node("MatMul", [flat, g.constant(layer.weights)])
    if layer.bias is not None:
        y = g.node("Add", [y, g.constant(layer.bias)])
    return y, (layer.weights.shape[1], 1, 1)


def _input(g: _Graph, means: tuple[float, float, float]) -> Value:
    """uint8 RGB chips (batch, 150, 150, 3) to dlib's input tensor: (pixel - mean) / 256, channels first."""
    x = g.node("Cast", ["chips"], to=1)  # FLOAT
    x = g.node("Sub", [x, g.constant(np.array(means, dtype=np.float32))])
    x = g.node("Mul", [x, g.constant(np.array(1 / 256, dtype=np.float32))])  # exact: a power of two
    return g.node("Transpose", [x], perm=[0, 3, 1, 2]), (3, INPUT_SIZE, INPUT_SIZE)


def to_onnx(network: Network):
    """The network as an onnx.ModelProto: uint8 ``chips`` (N, 150, 150, 3) in, float32 ``embeddings`` (N, 128) out."""
    from onnx import TensorProto, helper

    g = _Graph()
    x = _input(g, network.means)
    tags: dict[int, Value] = {}
    for layer in network.layers:
        x = _apply(g, x, layer, tags)
    g.nodes.append(helper.make_node("Identity", [x[0]], ["embeddings"]))
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["batch", INPUT_SIZE, INPUT_SIZE, 3])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", x[1][0]])],
        g.initializers,
    )
    # IR version 8 (ONNX 1.13) with opset 17: what any ONNX Runtime of the last years reads
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kesu")
    model.ir_version = 8
    return model


def _apply(g: _Graph, x: Value, layer: Layer, tags: dict[int, Value]) -> Value:
    kind = layer.op[0]
    if kind == "tag":
        tags[layer.op[1]] = x
        return x
    if kind == "skip":
        return tags[layer.op[1]]
    if kind == "add_prev":
        return _add(g, x, tags[layer.op[1]])
    if kind == "relu":
        return x if layer.disabled else (g.node("Relu", [x[0]]), x[1])
    build = {"con": _conv, "affine": _affine_node, "max_pool": _pool_node, "avg_pool": _pool_node, "fc": _fc_node}
    return build[kind](g, x, layer)


# -- running it ------------------------------------------------------------------------------------

_lock = threading.Lock()
_sessions: dict[int, object] = {}  # thread count -> onnxruntime.InferenceSession, one per process


def model_bytes() -> bytes:
    """The serialised ONNX model of the installed face_recognition_models' network (~0.1 s to make)."""
    with open(face_recognition_models.face_recognition_model_location(), "rb") as fh:
        return to_onnx(parse(fh.read())).SerializeToString()


def session(threads: int | None = None):
    """The ONNX Runtime session of the network, made on first use (``threads``: KESU_WORKER_THREADS)."""
    threads = threads or native_threads.count()
    with _lock:
        if threads not in _sessions:
            _sessions[threads] = _new_session(threads)
        return _sessions[threads]


def _new_session(threads: int):
    import onnxruntime

    options = native_threads.session_options(threads)
    # ORT_ENABLE_ALL folds each affine (Mul, Add) into the convolution before it
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(model_bytes(), options, providers=["CPUExecutionProvider"])


def embed_batch(chips: list[np.ndarray], threads: int | None = None) -> np.ndarray:
    """128-D float32 embeddings (n, 128) of aligned 150x150 RGB uint8 chips (dlib.get_face_chip's)."""
    if not chips:
        return np.zeros((0, 128), dtype=np.float32)
    batch = np.stack([np.asarray(c, dtype=np.uint8) for c in chips])
    if batch.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
        raise ValueError(f"face chips are {INPUT_SIZE}x{INPUT_SIZE} RGB, not {batch.shape[1:]}")
    return session(threads).run(["embeddings"], {"chips": batch})[0]
