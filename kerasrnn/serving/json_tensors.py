"""TF Serving's REST JSON ⇄ NumPy tensors: the row (`instances`) and columnar (`inputs`) formats.

Messages follow tensorflow_serving/util/json_tensor.cc, so a client sees the
same errors from `kerasrnn serve` as from TF Serving.
"""

import base64
import binascii
import json
import math

import numpy as np

from kerasrnn.serving.errors import invalid_argument

ROW, COLUMNAR = "row", "columnar"
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _short(value, limit=200):
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):  # an integer beyond str()'s digit limit, or deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _json_type(value):
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return "Number"
    return {str: "String", list: "Array", dict: "Object"}[type(value)]


def _is_b64(value):
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _leaf(value, dtype):
    """Convert one JSON scalar to a value of `dtype` ("string", "float32", "int32", ...)."""
    type_error = invalid_argument(
        f"JSON Value: {_short(value)} Type: {_json_type(value)} is not of expected type: {dtype}"
    )
    if dtype == "string":
        if isinstance(value, str):
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError as error:  # a lone surrogate such as "\ud800"
                raise invalid_argument(
                    f"JSON Value: string with an unpaired surrogate (\\u{ord(value[error.start]):04x}) at "
                    f"character {error.start} is not valid UTF-8 text"
                ) from None
        if _is_b64(value):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise invalid_argument("Unable to base64 decode") from None
        raise type_error
    if dtype == "bool":
        if not isinstance(value, bool):
            raise type_error
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_error
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if not isinstance(value, int) or not low <= value <= high:
            raise type_error
        return value
    if dtype in ("float32", "float64"):
        if isinstance(value, int) and abs(value) > float(np.finfo(np.float64).max):  # float(10**400) would overflow
            raise invalid_argument(f"Cannot convert JSON value: {_short(value)} to float without loss of precision.")
        if dtype == "float32" and math.isfinite(value) and abs(value) > np.finfo(np.float32).max:
            raise invalid_argument(f"Cannot convert JSON value: {_short(value)} to float without loss of precision.")
        return float(value)
    raise ServingUnimplemented(value, dtype)


class ServingUnimplemented(Exception):
    """A signature dtype the REST API cannot fill from JSON."""


def _shape_of(value):
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def to_array(value, dtype):
    """Turn a (nested-list) JSON value into a NumPy array of `dtype`, checking it is rectangular.

    Args:
        value: a JSON scalar, `{"b64": ...}` or nested lists of them.
        dtype: the signature input's dtype name (`"string"`, `"float32"`, `"int32"`, `"int64"`, ...).

    Example:

    >>> to_array([["a", "b"], ["c", ""]], "string").shape
    (2, 2)
    >>> to_array([["a", "b"], ["c"]], "string")
    Traceback (most recent call last):
    ...
    kerasrnn.serving.errors.ServingError: Encountered list at unexpected size: 1 at level: 1 expected size: 2
    """
    shape = _shape_of(value)
    flat = []

    def fill(node, level):
        if not isinstance(node, list):
            if level != len(shape):
                raise invalid_argument(
                    f"JSON Value: {_short(node)} found at incorrect level: {level + 1} in the JSON DOM. "
                    f"Expected at level: {len(shape)}"
                )
            flat.append(_leaf(node, dtype))
            return
        if level >= len(shape):
            raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {len(shape)}")
        if len(node) != shape[level]:
            raise invalid_argument(
                f"Encountered list at unexpected size: {len(node)} at level: {level} expected size: {shape[level]}"
            )
        for child in node:
            fill(child, level + 1)

    fill(value, 0)
    numpy_dtype = object if dtype == "string" else np.dtype(dtype)
    return np.array(flat, dtype=numpy_dtype).reshape(shape)


def parse_body(body):
    """Decode and parse a request body into a JSON object (a dict), or raise a 400.

    Example:

    >>> parse_body(b'{"instances": ["Great film!"]}')
    {'instances': ['Great film!']}
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_argument(f"JSON Parse error: Invalid encoding in string. at offset: {error.start}") from None
    if not text.strip():
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise invalid_argument(f"JSON Parse error: {error.msg} at offset: {error.pos}") from None
    except RecursionError:
        raise invalid_argument("JSON Parse error: The document is nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than int() accepts
        raise invalid_argument(f"JSON Parse error: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise invalid_argument(f"JSON Value: {_short(document)} Is not object")
    return document


def signature_name_of(document):
    """The request's `signature_name` ("" when absent).

    Example:

    >>> signature_name_of({"signature_name": "generate", "instances": []})
    'generate'
    """
    name = document.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument(
            f"JSON Value: {_short(document)} not formatted correctly. 'signature_name' key must be a string value."
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_argument("'signature_name' is not valid UTF-8 text (it holds an unpaired surrogate)") from None
    return name


def _add_instance_item(value, name, dtypes, shapes):
    if name not in dtypes:
        raise invalid_argument(f"JSON object: does not have named input: {name}")
    array = to_array(value, dtypes[name])
    if name in shapes and shapes[name] != array.shape:
        if int(np.prod(shapes[name])) != array.size:
            raise invalid_argument(f"Expecting tensor size: {int(np.prod(shapes[name]))} but got: {array.size}")
        raise invalid_argument(f"Expecting shape {list(shapes[name])} but got: {list(array.shape)}")
    shapes[name] = array.shape
    return array


def _rows_to_inputs(instances, dtypes):
    if not isinstance(instances[0], dict) and len(dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors required "
            "as per tensorinfo_map"
        )
    as_objects = isinstance(instances[0], dict) and not _is_b64(instances[0])
    columns = {name: [] for name in dtypes}
    shapes = {}
    for index, element in enumerate(instances):
        if as_objects:
            if not isinstance(element, dict) or _is_b64(element):
                raise invalid_argument(f"Expecting object but got list at item {index} of input list")
            for name, value in element.items():
                try:
                    array = _add_instance_item(value, name, dtypes, shapes)
                except Exception as error:
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: INVALID_ARGUMENT: {getattr(error, 'message', error)}"
                    ) from None
                columns[name].append(array)
            if set(element) != set(dtypes):
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: {_short(element)} "
                    f"keys must be equal to: {','.join(sorted(dtypes))}"
                )
        else:
            if isinstance(element, dict) and not _is_b64(element):
                raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
            name = next(iter(dtypes))
            try:
                columns[name].append(_add_instance_item(element, name, dtypes, shapes))
            except Exception as error:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. "
                    f"Error: INVALID_ARGUMENT: {getattr(error, 'message', error)}"
                ) from None
    return {name: np.stack(arrays) for name, arrays in columns.items()}


def _columns_to_inputs(inputs, dtypes):
    if not isinstance(inputs, dict) or _is_b64(inputs):
        if len(dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required "
                "as per tensorinfo_map"
            )
        name = next(iter(dtypes))
        return {name: to_array(inputs, dtypes[name])}
    arrays = {}
    for name, dtype in dtypes.items():
        if name not in inputs:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = to_array(inputs[name], dtype)
    return arrays


def request_inputs(document, dtypes):
    """Read the input tensors of a predict request, in either REST format.

    Args:
        document: the parsed request body.
        dtypes: `{input name: dtype name}` of the signature called.

    Returns:
        `(format, {input name: np.ndarray})`, format being `ROW` or `COLUMNAR`.

    Example:

    >>> request_inputs({"instances": ["Great!", "Awful."]}, {"text": "string"})[1]["text"].shape
    (2,)
    """
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise invalid_argument(
            f"JSON Value: {_short(document)} Not formatted correctly expecting only one of 'inputs' or "
            "'instances' keys to exist "
        )
    try:
        if has_instances:
            instances = document["instances"]
            if not isinstance(instances, list):
                raise invalid_argument(f"JSON Value: {_short(document)} Excepting 'instances' to be an list/array")
            if not instances:
                raise invalid_argument(f"JSON Value: {_short(document)} No values in 'instances' array")
            return ROW, _rows_to_inputs(instances, dtypes)
        if has_inputs:
            return COLUMNAR, _columns_to_inputs(document["inputs"], dtypes)
    except ServingUnimplemented as error:
        value, dtype = error.args
        raise invalid_argument(f"Conversion of JSON Value: {_short(value)} to type: {dtype} is not supported") from None
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def _jsonable(name, array):
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind == "S":
        as_bytes = name.endswith("_bytes")

        def text(value):
            if not as_bytes:
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            return {"b64": base64.b64encode(value).decode("ascii")}

        return np.array([text(value) for value in array.ravel()], dtype=object).reshape(array.shape).tolist()
    if array.dtype == np.float32 or array.dtype == np.float16:
        # The shortest decimal that reads back as the same float32, as TF
        # Serving writes it (0.1, not 0.10000000149011612).
        shortest = [float(str(value)) for value in array.ravel()]
        return np.array(shortest, dtype=np.float64).reshape(array.shape).tolist()
    return array.tolist()


def response_body(outputs, request_format):
    """Format a signature's outputs as TF Serving does: `predictions` (row) or `outputs` (columnar).

    A single output is written bare; several become one object per row (or
    one object of columns). In the row format every output must share the
    batch dimension.

    Args:
        outputs: `{output name: np.ndarray}`.
        request_format: `ROW` or `COLUMNAR`, as the request came.

    Example:

    >>> response_body({"label": np.array([b"pos"], object)}, ROW)
    {'predictions': ['pos']}
    """
    names = sorted(outputs)
    if request_format == COLUMNAR:
        if len(names) == 1:
            return {"outputs": _jsonable(names[0], outputs[names[0]])}
        return {"outputs": {name: _jsonable(name, outputs[name]) for name in names}}
    batch_size = None
    for name in names:
        shape = np.shape(outputs[name])
        if not shape:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and shape[0] != batch_size:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {shape[0]} expecting: {batch_size}"
            )
        batch_size = shape[0]
    columns = {name: _jsonable(name, outputs[name]) for name in names}
    if len(names) == 1:
        return {"predictions": columns[names[0]]}
    return {"predictions": [{name: columns[name][row] for name in names} for row in range(batch_size)]}
