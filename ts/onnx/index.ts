/**
 * ONNX export: a model traced through one eval-mode forward, written as an ONNX file that
 * onnxruntime (Node, the browser, Python) and other ONNX tools run.
 */
export { OnnxExportError } from '../errors'
