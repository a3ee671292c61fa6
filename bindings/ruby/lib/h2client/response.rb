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
    # Every header as a frozen [name, value] pair, in the order received.
    attr_reader :header_list
    # Every trailer as a frozen [name, value] pair, in the order received.
    attr_reader :trailer_list
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

    # Made by the client; the arguments are the fields of the same names.
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

    # +url+ as a URI (parsed on each call), nil if there is no url.
    def uri
      @url && URI(@url)
    end

    # Hash of lowercase name => value (repeated names joined with ", ").
    def headers
      @headers ||= Response.fold(@header_list)
    end

    # Trailers (fields after the body) as a Hash, like +headers+; empty if none.
    def trailers
      @trailers ||= Response.fold(@trailer_list)
    end

    # The value of header +name+ (any case), repeated ones joined with ", "; nil if absent.
    def [](name)
      headers[name.to_s.downcase]
    end

    # Every value of header +name+ (any case), in order; [] if absent.
    def header_values(name)
      name = name.to_s.downcase
      @header_list.filter_map { |n, v| v if n == name }
    end

    # Every value of trailer +name+ (any case), in order.
    def trailer_values(name)
      name = name.to_s.downcase
      @trailer_list.filter_map { |n, v| v if n == name }
    end

    # 2xx?
    def success?
      @status >= 200 && @status < 300
    end

    # "#<H2Client::Response 200 URL headers=N body=N bytes ...>".
    def inspect
      size = @body ? "#{@body.bytesize} bytes" : "streamed"
      "#<#{self.class} #{@status}#{@url ? " #{@url}" : ''} headers=#{@header_list.size} " \
        "body=#{size}#{@trailer_list.empty? ? '' : " trailers=#{@trailer_list.size}"}" \
        "#{@redirect_count.zero? ? '' : " redirects=#{@redirect_count}"}>"
    end

    # Called when the trailers of a streamed body arrive.
    def _set_trailers(list) # :nodoc:
      @trailer_list = list
      @trailers = nil
    end

    # [[name, value], ...] as a Hash, the values of a repeated name joined with ", ".
    def self.fold(list)
      hash = {}
      list.each do |name, value|
        prev = hash[name]
        hash[name] = prev ? "#{prev}, #{value}" : value
      end
      hash
    end
  end
end
