/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
"use strict";

var $protobuf = require("protobufjs/minimal");

// Common aliases
var $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
var $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError;

// Exported root namespace
var $root = $protobuf.roots["tensorboard"] || ($protobuf.roots["tensorboard"] = {});

$root.tensorboard = (function() {

    /**
     * Namespace tensorboard.
     * @exports tensorboard
     * @namespace
     */
    var tensorboard = {};

    tensorboard.Event = (function() {

        /**
         * Properties of an Event.
         * @typedef {Object} tensorboard.Event.$Properties
         * @property {number|null} [wallTime] Event wallTime
         * @property {number|Long|null} [step] Event step
         * @property {string|null} [fileVersion] Event fileVersion
         * @property {tensorboard.Summary.$Properties|null} [summary] Event summary
         * @property {tensorboard.SourceMetadata.$Properties|null} [sourceMetadata] Event sourceMetadata
         * @property {"fileVersion"|"summary"} [what] Event what
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of an Event.
         * @memberof tensorboard
         * @interface IEvent
         * @augments tensorboard.Event.$Properties
         * @deprecated Use tensorboard.Event.$Properties instead.
         */

        /**
         * Narrowed shape of an Event.
         * @typedef {{
         *   wallTime?: number|null;
         *   step?: number|Long|null;
         *   fileVersion?: string|null;
         *   summary?: tensorboard.Summary.$Shape|null;
         *   sourceMetadata?: tensorboard.SourceMetadata.$Shape|null;
         *   $unknowns?: Array.<Uint8Array>;
         * } & (
         *   ({ what?: undefined; fileVersion?: null; summary?: null }|{ what?: "fileVersion"; fileVersion: string; summary?: null }|{ what?: "summary"; fileVersion?: null; summary: tensorboard.Summary.$Shape })
         * )} tensorboard.Event.$Shape
         */

        /**
         * Constructs a new Event.
         * @memberof tensorboard
         * @classdesc Represents an Event.
         * @constructor
         * @param {tensorboard.Event.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var Event = function (properties) {
            if (properties)
                for (var keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Event wallTime.
         * @member {number} wallTime
         * @memberof tensorboard.Event
         * @instance
         */
        Event.prototype.wallTime = 0;

        /**
         * Event step.
         * @member {number|Long} step
         * @memberof tensorboard.Event
         * @instance
         */
        Event.prototype.step = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * Event fileVersion.
         * @member {string|null|undefined} fileVersion
         * @memberof tensorboard.Event
         * @instance
         */
        Event.prototype.fileVersion = null;

        /**
         * Event summary.
         * @member {tensorboard.Summary.$Properties|null|undefined} summary
         * @memberof tensorboard.Event
         * @instance
         */
        Event.prototype.summary = null;

        /**
         * Event sourceMetadata.
         * @member {tensorboard.SourceMetadata.$Properties|null|undefined} sourceMetadata
         * @memberof tensorboard.Event
         * @instance
         */
        Event.prototype.sourceMetadata = null;

        // OneOf field names bound to virtual getters and setters
        var $oneOfFields;

        /**
         * Event what.
         * @member {"fileVersion"|"summary"|undefined} what
         * @memberof tensorboard.Event
         * @instance
         */
        $Object.defineProperty(Event.prototype, "what", {
            get: $util.oneOfGetter($oneOfFields = ["fileVersion", "summary"]),
            set: $util.oneOfSetter($oneOfFields)
        });

        /**
         * Encodes the specified Event message. Does not implicitly {@link tensorboard.Event.verify|verify} messages.
         * @function encode
         * @memberof tensorboard.Event
         * @static
         * @param {tensorboard.Event.$Properties} message Event message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Event.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.wallTime != null && $Object.hasOwnProperty.call(message, "wallTime") && !$Object.is(message.wallTime, 0))
                writer.uint32(/* id 1, wireType 1 =*/9).double(message.wallTime);
            if (message.step != null && $Object.hasOwnProperty.call(message, "step") && (typeof message.step === "object" ? message.step.low || message.step.high : message.step !== 0))
                writer.uint32(/* id 2, wireType 0 =*/16).int64(message.step);
            if (message.fileVersion != null && $Object.hasOwnProperty.call(message, "fileVersion"))
                writer.uint32(/* id 3, wireType 2 =*/26).string(message.fileVersion);
            if (message.summary != null && $Object.hasOwnProperty.call(message, "summary"))
                $root.tensorboard.Summary.encode(message.summary, writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
            if (message.sourceMetadata != null && $Object.hasOwnProperty.call(message, "sourceMetadata"))
                $root.tensorboard.SourceMetadata.encode(message.sourceMetadata, writer.uint32(/* id 10, wireType 2 =*/82).fork(), _depth + 1).ldelim();
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (var i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes an Event message from the specified reader or buffer.
         * @function decode
         * @memberof tensorboard.Event
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {tensorboard.Event & tensorboard.Event.$Shape} Event
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Event.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.tensorboard.Event();
            while (reader.pos < end) {
                var start = reader.pos;
                var tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                var wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 1)
                            break;
                        if (!$Object.is(value = reader.double(), 0))
                            message.wallTime = value;
                        else
                            delete message.wallTime;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                            message.step = value;
                        else
                            delete message.step;
                        continue;
                    }
                case 3: {
                        if (wireType !== 2)
                            break;
                        message.fileVersion = reader.stringVerify();
                        message.what = "fileVersion";
                        continue;
                    }
                case 5: {
                        if (wireType !== 2)
                            break;
                        message.summary = $root.tensorboard.Summary.decode(reader, reader.size(), $undefined, _depth + 1, message.summary);
                        message.what = "summary";
                        continue;
                    }
                case 10: {
                        if (wireType !== 2)
                            break;
                        message.sourceMetadata = $root.tensorboard.SourceMetadata.decode(reader, reader.size(), $undefined, _depth + 1, message.sourceMetadata);
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        return Event;
    })();

    tensorboard.SourceMetadata = (function() {

        /**
         * Properties of a SourceMetadata.
         * @typedef {Object} tensorboard.SourceMetadata.$Properties
         * @property {string|null} [writer] SourceMetadata writer
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a SourceMetadata.
         * @memberof tensorboard
         * @interface ISourceMetadata
         * @augments tensorboard.SourceMetadata.$Properties
         * @deprecated Use tensorboard.SourceMetadata.$Properties instead.
         */

        /**
         * Shape of a SourceMetadata.
         * @typedef {tensorboard.SourceMetadata.$Properties} tensorboard.SourceMetadata.$Shape
         */

        /**
         * Constructs a new SourceMetadata.
         * @memberof tensorboard
         * @classdesc Represents a SourceMetadata.
         * @constructor
         * @param {tensorboard.SourceMetadata.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var SourceMetadata = function (properties) {
            if (properties)
                for (var keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * SourceMetadata writer.
         * @member {string} writer
         * @memberof tensorboard.SourceMetadata
         * @instance
         */
        SourceMetadata.prototype.writer = "";

        /**
         * Encodes the specified SourceMetadata message. Does not implicitly {@link tensorboard.SourceMetadata.verify|verify} messages.
         * @function encode
         * @memberof tensorboard.SourceMetadata
         * @static
         * @param {tensorboard.SourceMetadata.$Properties} message SourceMetadata message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        SourceMetadata.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.writer != null && $Object.hasOwnProperty.call(message, "writer") && message.writer !== "")
                writer.uint32(/* id 1, wireType 2 =*/10).string(message.writer);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (var i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a SourceMetadata message from the specified reader or buffer.
         * @function decode
         * @memberof tensorboard.SourceMetadata
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {tensorboard.SourceMetadata & tensorboard.SourceMetadata.$Shape} SourceMetadata
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        SourceMetadata.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.tensorboard.SourceMetadata();
            while (reader.pos < end) {
                var start = reader.pos;
                var tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                var wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.stringVerify()).length)
                            message.writer = value;
                        else
                            delete message.writer;
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        return SourceMetadata;
    })();

    tensorboard.Summary = (function() {

        /**
         * Properties of a Summary.
         * @typedef {Object} tensorboard.Summary.$Properties
         * @property {Array.<tensorboard.Summary.Value.$Properties>|null} [value] Summary value
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a Summary.
         * @memberof tensorboard
         * @interface ISummary
         * @augments tensorboard.Summary.$Properties
         * @deprecated Use tensorboard.Summary.$Properties instead.
         */

        /**
         * Shape of a Summary.
         * @typedef {{
         *   value?: Array.<tensorboard.Summary.Value.$Shape>|null;
         *   $unknowns?: Array.<Uint8Array>;
         * }} tensorboard.Summary.$Shape
         */

        /**
         * Constructs a new Summary.
         * @memberof tensorboard
         * @classdesc Represents a Summary.
         * @constructor
         * @param {tensorboard.Summary.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        var Summary = function (properties) {
            this.value = [];
            if (properties)
                for (var keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Summary value.
         * @member {Array.<tensorboard.Summary.Value.$Properties>} value
         * @memberof tensorboard.Summary
         * @instance
         */
        Summary.prototype.value = $util.emptyArray;

        /**
         * Encodes the specified Summary message. Does not implicitly {@link tensorboard.Summary.verify|verify} messages.
         * @function encode
         * @memberof tensorboard.Summary
         * @static
         * @param {tensorboard.Summary.$Properties} message Summary message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Summary.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.value != null && message.value.length)
                for (var i = 0; i < message.value.length; ++i)
                    $root.tensorboard.Summary.Value.encode(message.value[i], writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (var i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a Summary message from the specified reader or buffer.
         * @function decode
         * @memberof tensorboard.Summary
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {tensorboard.Summary & tensorboard.Summary.$Shape} Summary
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Summary.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var end, message;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.tensorboard.Summary();
            while (reader.pos < end) {
                var start = reader.pos;
                var tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                var wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 2)
                            break;
                        if (!(message.value && message.value.length))
                            message.value = [];
                        message.value.push($root.tensorboard.Summary.Value.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        Summary.Image = (function() {

            /**
             * Properties of an Image.
             * @typedef {Object} tensorboard.Summary.Image.$Properties
             * @property {number|null} [height] Image height
             * @property {number|null} [width] Image width
             * @property {number|null} [colorspace] Image colorspace
             * @property {Uint8Array|null} [encodedImageString] Image encodedImageString
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Image.
             * @memberof tensorboard.Summary
             * @interface IImage
             * @augments tensorboard.Summary.Image.$Properties
             * @deprecated Use tensorboard.Summary.Image.$Properties instead.
             */

            /**
             * Shape of an Image.
             * @typedef {tensorboard.Summary.Image.$Properties} tensorboard.Summary.Image.$Shape
             */

            /**
             * Constructs a new Image.
             * @memberof tensorboard.Summary
             * @classdesc Represents an Image.
             * @constructor
             * @param {tensorboard.Summary.Image.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            var Image = function (properties) {
                if (properties)
                    for (var keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Image height.
             * @member {number} height
             * @memberof tensorboard.Summary.Image
             * @instance
             */
            Image.prototype.height = 0;

            /**
             * Image width.
             * @member {number} width
             * @memberof tensorboard.Summary.Image
             * @instance
             */
            Image.prototype.width = 0;

            /**
             * Image colorspace.
             * @member {number} colorspace
             * @memberof tensorboard.Summary.Image
             * @instance
             */
            Image.prototype.colorspace = 0;

            /**
             * Image encodedImageString.
             * @member {Uint8Array} encodedImageString
             * @memberof tensorboard.Summary.Image
             * @instance
             */
            Image.prototype.encodedImageString = $util.newBuffer([]);

            /**
             * Encodes the specified Image message. Does not implicitly {@link tensorboard.Summary.Image.verify|verify} messages.
             * @function encode
             * @memberof tensorboard.Summary.Image
             * @static
             * @param {tensorboard.Summary.Image.$Properties} message Image message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Image.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.height != null && $Object.hasOwnProperty.call(message, "height") && message.height !== 0)
                    writer.uint32(/* id 1, wireType 0 =*/8).int32(message.height);
                if (message.width != null && $Object.hasOwnProperty.call(message, "width") && message.width !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).int32(message.width);
                if (message.colorspace != null && $Object.hasOwnProperty.call(message, "colorspace") && message.colorspace !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).int32(message.colorspace);
                if (message.encodedImageString != null && $Object.hasOwnProperty.call(message, "encodedImageString") && message.encodedImageString.length)
                    writer.uint32(/* id 4, wireType 2 =*/34).bytes(message.encodedImageString);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (var i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an Image message from the specified reader or buffer.
             * @function decode
             * @memberof tensorboard.Summary.Image
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {tensorboard.Summary.Image & tensorboard.Summary.Image.$Shape} Image
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Image.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                var end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.tensorboard.Summary.Image();
                while (reader.pos < end) {
                    var start = reader.pos;
                    var tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    var wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.height = value;
                            else
                                delete message.height;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.width = value;
                            else
                                delete message.width;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.colorspace = value;
                            else
                                delete message.colorspace;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.encodedImageString = value;
                            else
                                delete message.encodedImageString;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            return Image;
        })();

        Summary.Value = (function() {

            /**
             * Properties of a Value.
             * @typedef {Object} tensorboard.Summary.Value.$Properties
             * @property {string|null} [tag] Value tag
             * @property {number|null} [simpleValue] Value simpleValue
             * @property {tensorboard.Summary.Image.$Properties|null} [image] Value image
             * @property {"simpleValue"|"image"} [value] Value value
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Value.
             * @memberof tensorboard.Summary
             * @interface IValue
             * @augments tensorboard.Summary.Value.$Properties
             * @deprecated Use tensorboard.Summary.Value.$Properties instead.
             */

            /**
             * Narrowed shape of a Value.
             * @typedef {{
             *   tag?: string|null;
             *   simpleValue?: number|null;
             *   image?: tensorboard.Summary.Image.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ value?: undefined; simpleValue?: null; image?: null }|{ value?: "simpleValue"; simpleValue: number; image?: null }|{ value?: "image"; simpleValue?: null; image: tensorboard.Summary.Image.$Shape })
             * )} tensorboard.Summary.Value.$Shape
             */

            /**
             * Constructs a new Value.
             * @memberof tensorboard.Summary
             * @classdesc Represents a Value.
             * @constructor
             * @param {tensorboard.Summary.Value.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            var Value = function (properties) {
                if (properties)
                    for (var keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Value tag.
             * @member {string} tag
             * @memberof tensorboard.Summary.Value
             * @instance
             */
            Value.prototype.tag = "";

            /**
             * Value simpleValue.
             * @member {number|null|undefined} simpleValue
             * @memberof tensorboard.Summary.Value
             * @instance
             */
            Value.prototype.simpleValue = null;

            /**
             * Value image.
             * @member {tensorboard.Summary.Image.$Properties|null|undefined} image
             * @memberof tensorboard.Summary.Value
             * @instance
             */
            Value.prototype.image = null;

            // OneOf field names bound to virtual getters and setters
            var $oneOfFields;

            /**
             * Value value.
             * @member {"simpleValue"|"image"|undefined} value
             * @memberof tensorboard.Summary.Value
             * @instance
             */
            $Object.defineProperty(Value.prototype, "value", {
                get: $util.oneOfGetter($oneOfFields = ["simpleValue", "image"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Encodes the specified Value message. Does not implicitly {@link tensorboard.Summary.Value.verify|verify} messages.
             * @function encode
             * @memberof tensorboard.Summary.Value
             * @static
             * @param {tensorboard.Summary.Value.$Properties} message Value message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Value.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.tag != null && $Object.hasOwnProperty.call(message, "tag") && message.tag !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.tag);
                if (message.simpleValue != null && $Object.hasOwnProperty.call(message, "simpleValue"))
                    writer.uint32(/* id 2, wireType 5 =*/21).float(message.simpleValue);
                if (message.image != null && $Object.hasOwnProperty.call(message, "image"))
                    $root.tensorboard.Summary.Image.encode(message.image, writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (var i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Value message from the specified reader or buffer.
             * @function decode
             * @memberof tensorboard.Summary.Value
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {tensorboard.Summary.Value & tensorboard.Summary.Value.$Shape} Value
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Value.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                var end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.tensorboard.Summary.Value();
                while (reader.pos < end) {
                    var start = reader.pos;
                    var tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    var wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.tag = value;
                            else
                                delete message.tag;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 5)
                                break;
                            message.simpleValue = reader.float();
                            message.value = "simpleValue";
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            message.image = $root.tensorboard.Summary.Image.decode(reader, reader.size(), $undefined, _depth + 1, message.image);
                            message.value = "image";
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            return Value;
        })();

        return Summary;
    })();

    return tensorboard;
})();

module.exports = $root;
