export { decodeOnnx, loadOnnx, type DecodeOptions, type LoadOptions } from './import.js';
export { encodeOnnx, saveOnnx, PROTOBUF_LIMIT, type EncodeOptions, type SaveOptions, type ValueInfoPolicy } from './export.js';
export { readTensorProto, writeTensorProto } from './tensor-proto.js';
