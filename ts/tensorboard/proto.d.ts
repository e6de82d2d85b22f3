import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace tensorboard {

    interface IEvent extends tensorboard.Event.$Properties {
    }

    class Event {
        constructor(properties?: tensorboard.Event.$Properties);
        $unknowns?: Uint8Array[];
        wallTime: number;
        step: (number|Long);
        fileVersion?: (string|null);
        summary?: (tensorboard.Summary.$Properties|null);
        sourceMetadata?: (tensorboard.SourceMetadata.$Properties|null);
        what?: ("fileVersion"|"summary");
        static encode(message: tensorboard.Event.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): tensorboard.Event & tensorboard.Event.$Shape;
    }

    namespace Event {
        interface $Properties {
            wallTime?: (number|null);
            step?: (number|Long|null);
            fileVersion?: (string|null);
            summary?: (tensorboard.Summary.$Properties|null);
            sourceMetadata?: (tensorboard.SourceMetadata.$Properties|null);
            what?: ("fileVersion"|"summary");
            $unknowns?: Uint8Array[];
        }
        type $Shape = {
          wallTime?: number|null;
          step?: number|Long|null;
          fileVersion?: string|null;
          summary?: tensorboard.Summary.$Shape|null;
          sourceMetadata?: tensorboard.SourceMetadata.$Shape|null;
          $unknowns?: Uint8Array[];
        } & (
          ({ what?: undefined; fileVersion?: null; summary?: null }|{ what?: "fileVersion"; fileVersion: string; summary?: null }|{ what?: "summary"; fileVersion?: null; summary: tensorboard.Summary.$Shape })
        );
    }

    interface ISourceMetadata extends tensorboard.SourceMetadata.$Properties {
    }

    class SourceMetadata {
        constructor(properties?: tensorboard.SourceMetadata.$Properties);
        $unknowns?: Uint8Array[];
        writer: string;
        static encode(message: tensorboard.SourceMetadata.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): tensorboard.SourceMetadata & tensorboard.SourceMetadata.$Shape;
    }

    namespace SourceMetadata {
        interface $Properties {
            writer?: (string|null);
            $unknowns?: Uint8Array[];
        }
        type $Shape = tensorboard.SourceMetadata.$Properties;
    }

    interface ISummary extends tensorboard.Summary.$Properties {
    }

    class Summary {
        constructor(properties?: tensorboard.Summary.$Properties);
        $unknowns?: Uint8Array[];
        value: tensorboard.Summary.Value.$Properties[];
        static encode(message: tensorboard.Summary.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): tensorboard.Summary & tensorboard.Summary.$Shape;
    }

    namespace Summary {
        interface $Properties {
            value?: (tensorboard.Summary.Value.$Properties[]|null);
            $unknowns?: Uint8Array[];
        }
        type $Shape = {
          value?: tensorboard.Summary.Value.$Shape[]|null;
          $unknowns?: Uint8Array[];
        };

        interface IImage extends tensorboard.Summary.Image.$Properties {
        }

        class Image {
            constructor(properties?: tensorboard.Summary.Image.$Properties);
            $unknowns?: Uint8Array[];
            height: number;
            width: number;
            colorspace: number;
            encodedImageString: Uint8Array;
            static encode(message: tensorboard.Summary.Image.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): tensorboard.Summary.Image & tensorboard.Summary.Image.$Shape;
        }

        namespace Image {
            interface $Properties {
                height?: (number|null);
                width?: (number|null);
                colorspace?: (number|null);
                encodedImageString?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = tensorboard.Summary.Image.$Properties;
        }

        interface IValue extends tensorboard.Summary.Value.$Properties {
        }

        class Value {
            constructor(properties?: tensorboard.Summary.Value.$Properties);
            $unknowns?: Uint8Array[];
            tag: string;
            simpleValue?: (number|null);
            image?: (tensorboard.Summary.Image.$Properties|null);
            value?: ("simpleValue"|"image");
            static encode(message: tensorboard.Summary.Value.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): tensorboard.Summary.Value & tensorboard.Summary.Value.$Shape;
        }

        namespace Value {
            interface $Properties {
                tag?: (string|null);
                simpleValue?: (number|null);
                image?: (tensorboard.Summary.Image.$Properties|null);
                value?: ("simpleValue"|"image");
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              tag?: string|null;
              simpleValue?: number|null;
              image?: tensorboard.Summary.Image.$Shape|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ value?: undefined; simpleValue?: null; image?: null }|{ value?: "simpleValue"; simpleValue: number; image?: null }|{ value?: "image"; simpleValue?: null; image: tensorboard.Summary.Image.$Shape })
            );
        }
    }
}
