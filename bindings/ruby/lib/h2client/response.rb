# frozen_string_literal: true

module H2Client
  # A response: status, headers, body, trailers. Plain Ruby data: everything is copied out
  # of the C library's response, which is freed before the Response is returned.
  #
  # Headers and trailers come in two forms:
  # * +header_list+ / +trailer_list+: every field as a frozen [name, value] pair, in the
  #   order received (repeated names stay separate, e.g. several set-cookie);
  # * +headers+ / +trailers+: a Hash with lowercase String keys; a name that occurs more
  #   than once maps to its values joined with ", " (RFC 9110 §5.3). Use
  #   <tt>header_values(name)</tt> for the separate values (set-cookie).
  #
  # Names are lowercase (HTTP/2 requires it) and UTF-8; values are UTF-8 Strings, or binary
  # if they are not valid UTF-8. The body is a binary (ASCII-8BIT) String, nil for a
  # response whose body was streamed to a block.
  #
  # +url+ is the URL that answered: the request's, or after redirects the last one
  # (+redirect_count+ tells how many were followed).
  class Response
    # The HTTP status (Integer).
    attr_reader :status
    # The body (binary String), nil if it was streamed to a block.
    attr_reader :body
    # The effective URL (frozen String): the request's, or the last one redirected to
    # (without credentials). nil for a Response made by hand without one.
    attr_reader :url
    # How many redirects were followed to get this response (0 when following is off).
    attr_reader :redirect_count

    # Whether the library decoded the body (the client's accept_encoding:); its
    # content-encoding and content-length headers were then removed, as Go does.
    def decoded?
      @decoded
    end

    # Made by the client; the arguments are the fields of the same names. The client passes
    # +header_list+ and +trailer_list+ as the library hands them out, in one String each
    # (name\0value\0..., binary; see Response.unpack), split into pairs on first use.
    def initialize(status, header_list, body, trailer_list = [], url = nil, redirect_count = 0,
                   decoded: false)
      @status = status
      @header_list = header_list
      @body = body
      @trailer_list = trailer_list
      @url = url
      @redirect_count = redirect_count
      @decoded = decoded
      @headers = nil
      @trailers = nil
    end

    # Every header as a frozen [name, value] pair, in the order received.
    def header_list
      list = @header_list
      return list unless list.is_a?(String)

      list = Response.unpack(list)
      @header_list = list unless frozen?
      list
    end

    # Every trailer as a frozen [name, value] pair, in the order received.
    def trailer_list
      list = @trailer_list
      return list unless list.is_a?(String)

      list = Response.unpack(list)
      @trailer_list = list unless frozen?
      list
    end

    # +url+ as a URI (parsed on each call), nil if there is no url.
    def uri
      @url && URI(@url)
    end

    # Hash of lowercase name => value (repeated names joined with ", ").
    def headers
      hash = @headers
      return hash if hash

      hash = Response.fold(@header_list)
      @headers = hash unless frozen?
      hash
    end

    # Trailers (fields after the body) as a Hash, like +headers+; empty if none.
    def trailers
      hash = @trailers
      return hash if hash

      hash = Response.fold(@trailer_list)
      @trailers = hash unless frozen?
      hash
    end

    # The value of header +name+ (any case), repeated ones joined with ", "; nil if absent.
    def [](name)
      list = @header_list
      # Straight from the packed fields: a lookup need not split them all (two Strings per
      # field) and build the Hash.
      return Response.find(list, name) if list.is_a?(String) && @headers.nil?

      headers[name.to_s.downcase]
    end

    # Every value of header +name+ (any case), in order; [] if absent.
    def header_values(name)
      name = name.to_s.downcase
      header_list.filter_map { |n, v| v if n == name }
    end

    # Every value of trailer +name+ (any case), in order.
    def trailer_values(name)
      name = name.to_s.downcase
      trailer_list.filter_map { |n, v| v if n == name }
    end

    # 2xx?
    def success?
      @status >= 200 && @status < 300
    end

    # "#<H2Client::Response 200 URL headers=N body=N bytes ...>".
    def inspect
      size = @body ? "#{@body.bytesize} bytes" : "streamed"
      trailers = Response.count(@trailer_list)
      "#<#{self.class} #{@status}#{@url ? " #{@url}" : ''} " \
        "headers=#{Response.count(@header_list)} " \
        "body=#{size}#{trailers.zero? ? '' : " trailers=#{trailers}"}" \
        "#{@redirect_count.zero? ? '' : " redirects=#{@redirect_count}"}>"
    end

    # Called when the trailers of a streamed body arrive (a list, or packed as in new).
    def _set_trailers(list) # :nodoc:
      @trailer_list = list
      @trailers = nil
    end

    NUL = "\0"
    NUL_BINARY = "\0".b.freeze
    UTF_8 = Encoding::UTF_8
    BINARY = Encoding::BINARY
    private_constant :NUL, :NUL_BINARY, :UTF_8, :BINARY

    # The fields of +packed+, a binary String "name\0value\0name\0value\0..." as the
    # library's h2_*_headers_packed functions hand them out (no NUL can occur in a name or a
    # value), as an Array of frozen [name, value] pairs. Names are UTF-8 (lowercase tokens:
    # ASCII); a value is UTF-8, or binary if it is not valid UTF-8.
    def self.unpack(packed)
      pairs(pieces(packed))
    end

    # +packed+ (as for unpack) split into its names and values, alternately, each frozen.
    # +packed+'s encoding may be changed (a frozen one is copied).
    def self.pieces(packed)
      packed = +packed
      if packed.ascii_only?
        # Every piece is valid UTF-8: one split, no check per piece.
        parts = packed.force_encoding(UTF_8).split(NUL, -1)
      else
        # Split as bytes (a UTF-8 split refuses invalid bytes), then each piece.
        parts = packed.split(NUL_BINARY, -1)
        parts.each do |piece|
          piece.force_encoding(UTF_8)
          piece.force_encoding(BINARY) unless piece.valid_encoding?
        end
      end
      parts.pop # the "" after the NUL that ends the last value
      parts.each(&:freeze)
    end

    # The value of field +name+ (any case) in +packed+ (as for unpack), as +fold+ maps it:
    # the value (frozen; UTF-8, or binary if not valid UTF-8), repeated ones joined with
    # ", "; nil if absent. A byte search for "name\0" (cached per name) whose every hit is
    # checked to start a field (an even number of NULs before it), so that a value equal
    # to +name+ is never taken for it.
    def self.find(packed, name)
      needle = needle(name)
      return nil unless needle

      # Offsets below are bytes: String#index counts characters in any other encoding (the
      # library's lists are binary; one made by hand may not be).
      packed = packed.b unless packed.encoding == BINARY
      value = nil
      at = 0
      while (i = packed.index(needle, at))
        if i.zero? || (packed.getbyte(i - 1).zero? && packed.byteslice(0, i).count(NUL_BINARY).even?)
          from = i + needle.bytesize
          to = packed.index(NUL_BINARY, from) || packed.bytesize
          piece = piece(packed.byteslice(from, to - from))
          value = value ? "#{value}, #{piece}" : piece
          at = to + 1
        else
          at = i + 1
        end
      end
      value
    end

    # A value cut from packed fields, as pieces makes it.
    def self.piece(value)
      value.force_encoding(UTF_8)
      value.force_encoding(BINARY) unless value.valid_encoding?
      value.freeze
    end

    # Needles for find, by name as given; bounded, as names may come from anywhere.
    NEEDLES = {}
    NEEDLES_MAX = 256
    private_constant :NEEDLES, :NEEDLES_MAX

    # The bytes find searches for: "name\0", +name+ lowercase and binary; nil for a name no
    # field can have (with a NUL, which would let it match across fields; or in an encoding
    # that is not ASCII-compatible, which the Hash never matches either).
    def self.needle(name)
      # Only names whose text cannot change are cached (another object's to_s may).
      return NEEDLES.fetch(name) { NEEDLES[name] = make_needle(name) } if cacheable?(name)

      make_needle(name)
    end

    def self.cacheable?(name)
      name.instance_of?(String) || name.instance_of?(Symbol)
    end

    def self.make_needle(name)
      lower = name.to_s.downcase
      return nil unless lower.encoding.ascii_compatible?

      lower = lower.b
      return nil if lower.include?(NUL_BINARY)

      NEEDLES.clear if NEEDLES.size >= NEEDLES_MAX
      (lower << NUL_BINARY).freeze
    end

    # [name, value, name, value, ...] as frozen [name, value] pairs.
    def self.pairs(parts)
      count = parts.size / 2
      list = Array.new(count)
      i = 0
      while i < count
        list[i] = [parts[2 * i], parts[2 * i + 1]].freeze
        i += 1
      end
      list
    end

    # How many fields +list+ has (an Array of pairs, or packed as for unpack).
    def self.count(list)
      list.is_a?(String) ? list.count(NUL) / 2 : list.size
    end

    # [[name, value], ...] (or packed, as for unpack) as a Hash, the values of a repeated
    # name joined with ", ".
    def self.fold(list)
      if list.is_a?(String)
        # Straight from the pieces, without pairs, if no name is repeated (the usual case).
        parts = pieces(list)
        hash = Hash[*parts]
        return hash if hash.size * 2 == parts.size

        list = pairs(parts)
      end
      # No repeated name: the pairs as they are.
      hash = begin
        list.to_h
      rescue TypeError, ArgumentError
        nil # not all pairs (a Response made by hand): as below
      end
      return hash if hash && hash.size == list.size

      hash = {}
      list.each do |name, value|
        prev = hash[name]
        hash[name] = prev ? "#{prev}, #{value}" : value
      end
      hash
    end
  end
end
