"""The layers of a keras.Sequential's JSON as train_gpu sees them (host/model/network_spec.h).

What model.to_json() writes (Keras 3; Keras 2's batch_input_shape form too) becomes a list of
Layer: the Keras class and config, the shapes channels first (C, H, W), TensorFlow's "same"
padding, and the PyTorch nn.Sequential names of the layer's tensors -- train_gpu's checkpoint
names: a layer is module i, and a Conv2D/Dense with a non-linear activation (not softmax) is two
modules (Conv2d then ReLU), so the next layer is i + 2. The tutorial's network keeps its own names
(conv, fc1, fc2). Needs only the standard library: tools/to_keras.py and the tests' NumPy
reference (tests/support/reference_forward.py) share it.
"""

import json
from dataclasses import dataclass, field

SUPPORTED = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout", "BatchNormalization",
             "Activation", "ReLU")


class SpecError(ValueError):
    pass


@dataclass
class Layer:
    kind: str                 # Keras's class name ("ReLU" becomes "Activation" with activation relu)
    name: str                 # Keras's layer name
    config: dict
    input: tuple              # (C, H, W); a flat activation is (features, 1, 1)
    output: tuple
    module: str = ""          # the nn.Sequential name of its tensors
    activation: str = "linear"
    pads: tuple = (0, 0, 0, 0)  # top, left, bottom, right
    window: tuple = (0, 0)
    strides: tuple = (1, 1)
    parameters: list = field(default_factory=list)  # [(name, shape)] in arena order
    buffers: list = field(default_factory=list)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _extent(size, window, stride, padding, layer_name):
    if padding == "valid":
        if window > size:
            raise SpecError(f"layer {layer_name}: window {window} is larger than its input's {size} (valid padding)")
        return (size - window) // stride + 1, 0, 0
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def input_shape(model_json):
    """(C, H, W) from the JSON's InputLayer / batch_input_shape, or None when it gives none."""
    config = model_json.get("config", {})
    for entry in config.get("layers", []):
        layer_config = entry.get("config", {})
        shape = layer_config.get("batch_shape") or layer_config.get("batch_input_shape")
        if shape:
            height, width, channels = shape[1:]
            return (channels, height, width)
    shape = config.get("build_input_shape")
    if shape:
        height, width, channels = shape[1:]
        return (channels, height, width)
    return None


def layers_of(json_text, data_input=None):
    """(input (C, H, W), [Layer]) of a keras.Sequential's JSON; data_input is used when the JSON
    gives no input shape. Raises SpecError naming the layer for what train_gpu does not run."""
    model_json = json.loads(json_text) if isinstance(json_text, str) else json_text
    if model_json.get("class_name") != "Sequential":
        raise SpecError(f"a {model_json.get('class_name')!r} model; train_gpu reads keras.Sequential only")
    shape = input_shape(model_json) or data_input
    if shape is None:
        raise SpecError("the JSON gives no input shape")
    network_input = tuple(shape)
    layers = []
    module = 0
    for entry in model_json["config"]["layers"]:
        kind, config = entry["class_name"], entry["config"]
        if kind == "InputLayer":
            continue
        if kind not in SUPPORTED:
            raise SpecError(f"layer {config.get('name')}: {kind} is not supported ({', '.join(SUPPORTED)})")
        layer = Layer(kind=kind, name=config["name"], config=config, input=shape, output=shape, module=str(module))
        channels, height, width = shape
        if kind == "Conv2D" or kind.endswith("Pooling2D"):
            conv = kind == "Conv2D"
            layer.window = _pair(config["kernel_size"] if conv else config["pool_size"])
            strides = config.get("strides")
            layer.strides = _pair(strides) if strides is not None else ((1, 1) if conv else layer.window)
            padding = config.get("padding", "valid")
            out_h, top, bottom = _extent(height, layer.window[0], layer.strides[0], padding, layer.name)
            out_w, left, right = _extent(width, layer.window[1], layer.strides[1], padding, layer.name)
            layer.pads = (top, left, bottom, right)
            if conv:
                filters = config["filters"]
                layer.activation = config.get("activation", "linear")
                layer.parameters.append((f"{module}.weight", (filters, channels) + layer.window))
                if config.get("use_bias", True):
                    layer.parameters.append((f"{module}.bias", (filters,)))
                shape = (filters, out_h, out_w)
            else:
                shape = (channels, out_h, out_w)
        elif kind == "Flatten":
            shape = (channels * height * width, 1, 1)
        elif kind == "Dense":
            units = config["units"]
            layer.activation = config.get("activation", "linear")
            layer.parameters.append((f"{module}.weight", (units, channels * height * width)))
            if config.get("use_bias", True):
                layer.parameters.append((f"{module}.bias", (units,)))
            shape = (units, 1, 1)
        elif kind == "BatchNormalization":
            layer.parameters += [(f"{module}.weight", (channels,)), (f"{module}.bias", (channels,))]
            layer.buffers += [(f"{module}.running_mean", (channels,)), (f"{module}.running_var", (channels,))]
        elif kind in ("Activation", "ReLU"):
            layer.activation = config.get("activation", "relu")
            layer.kind = "Activation"
        layer.output = shape
        layers.append(layer)
        module += 1
        if kind in ("Conv2D", "Dense") and layer.activation not in ("linear", "softmax"):
            module += 1
    if _is_tutorial(network_input, layers):
        for layer, module_name in zip(layers, ("conv", "", "", "fc1", "fc2")):
            layer.module = module_name
            layer.parameters = [(module_name + name[name.index("."):], shape) for name, shape in layer.parameters]
    return network_input, layers


def _is_tutorial(network_input, layers):
    """NetworkSpec::is_tutorial's test: the network whose tensors keep model_spec.h's names."""
    if network_input != (1, 28, 28) or [layer.kind for layer in layers] != [
            "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]:
        return False
    conv, pool, _, fc1, fc2 = layers
    return (conv.output[0] == 32 and conv.window == (3, 3) and conv.strides == (1, 1) and conv.pads == (0,) * 4
            and conv.activation == "relu" and len(conv.parameters) == 2
            and pool.window == (2, 2) and pool.strides == (2, 2) and pool.pads == (0,) * 4
            and fc1.output[0] == 128 and fc1.activation == "relu" and len(fc1.parameters) == 2
            and fc2.output[0] == 10 and len(fc2.parameters) == 2 and fc2.activation in ("linear", "softmax"))


def tensor_shapes(layers):
    """{name: shape} of every parameter and buffer tensor, what a checkpoint of the spec holds."""
    shapes = {}
    for layer in layers:
        shapes.update(layer.parameters)
        shapes.update(layer.buffers)
    return shapes
