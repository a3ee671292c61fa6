# frozen_string_literal: true

require "socket"

# A scripted HTTP/2 server (cleartext, prior knowledge) for what h2testserver does not send:
# informational (1xx) responses, floods of empty DATA, PRIORITY or CONTINUATION frames, a
# connection dropped mid-response. It does the connection's chores (the preface, SETTINGS
# and their acks, PING acks) and calls the script with a Conn and the stream id of each
# request's HEADERS; the script answers with frames. One thread per connection; header
# blocks are HPACK literals without indexing (no Huffman), so nothing needs decoding.
#
#   server = RawH2Server.new do |conn, id|
#     conn.headers(id, [[":status", "103"], ["link", "</a.css>; rel=preload"]])
#     conn.headers(id, [[":status", "200"]])
#     conn.data(id, "done", end_stream: true)
#   end
#   server.url   # => "http://127.0.0.1:PORT"
#   server.close
class RawH2Server
  PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".b
  DATA = 0
  HEADERS = 1
  PRIORITY = 2
  SETTINGS = 4
  PING = 6
  GOAWAY = 7
  CONTINUATION = 9
  END_STREAM = 0x1
  ACK = 0x1
  END_HEADERS = 0x4

  # Frames written to one connection.
  class Conn
    def initialize(sock)
      @sock = sock
    end

    # A HEADERS frame with +fields+ ([name, value] pairs), or, with +continuations+ > 0,
    # the header block cut into that many CONTINUATION frames after the HEADERS.
    def headers(id, fields, end_stream: false, continuations: 0)
      block = RawH2Server.hpack(fields)
      flags = end_stream ? END_STREAM : 0
      if continuations.zero?
        frame(HEADERS, flags | END_HEADERS, id, block)
        return
      end
      size = (block.bytesize / (continuations + 1.0)).ceil
      pieces = block.scan(/.{1,#{size}}/mn)
      frame(HEADERS, flags, id, pieces.shift)
      pieces.each_with_index do |piece, i|
        frame(CONTINUATION, i == pieces.size - 1 ? END_HEADERS : 0, id, piece)
      end
    end

    def data(id, bytes, end_stream: false)
      frame(DATA, end_stream ? END_STREAM : 0, id, bytes.b)
    end

    # A PRIORITY frame (a "glitch": it changes nothing for a client).
    def priority(id)
      frame(PRIORITY, 0, id, [0, 15].pack("NC"))
    end

    # Closes the connection without GOAWAY.
    def drop
      @sock.close
    end

    def frame(type, flags, id, payload)
      len = payload.bytesize
      @sock.write([len >> 16, (len >> 8) & 0xff, len & 0xff, type, flags, id].pack("CCCCCN") +
                  payload)
    end
  end

  def initialize(&script)
    @script = script
    @server = TCPServer.new("127.0.0.1", 0)
    @socks = Queue.new
    @threads = Queue.new
    @acceptor = Thread.new do
      loop do
        sock = @server.accept
        @socks << sock
        @threads << Thread.new(sock) { |s| serve(s) }
      end
    rescue IOError, SystemCallError
      nil # closed
    end
  end

  def url
    "http://127.0.0.1:#{@server.addr[1]}"
  end

  def close
    @server.close
    @acceptor.join
    @socks.pop.close until @socks.empty?
    @threads.pop.join until @threads.empty?
  end

  # HPACK literal header fields without indexing, new names (RFC 7541 §6.2.2).
  def self.hpack(fields)
    fields.map { |n, v| "\x00".b + int7(n.bytesize) + n.b + int7(v.bytesize) + v.b }.join
  end

  # An HPACK integer with a 7-bit prefix (no Huffman bit).
  def self.int7(n)
    return [n].pack("C") if n < 127

    out = [127]
    n -= 127
    while n >= 128
      out << ((n & 0x7f) | 0x80)
      n >>= 7
    end
    (out << n).pack("C*")
  end

  private

  def serve(sock)
    return unless sock.read(PREFACE.bytesize) == PREFACE

    conn = Conn.new(sock)
    conn.frame(SETTINGS, 0, 0, "".b)
    while (head = sock.read(9)) && head.bytesize == 9
      len = (head.getbyte(0) << 16) | (head.getbyte(1) << 8) | head.getbyte(2)
      type = head.getbyte(3)
      flags = head.getbyte(4)
      id = head.byteslice(5, 4).unpack1("N") & 0x7fff_ffff
      payload = len.zero? ? "".b : sock.read(len)
      case type
      when SETTINGS then conn.frame(SETTINGS, ACK, 0, "".b) if (flags & ACK).zero?
      when PING then conn.frame(PING, ACK, 0, payload) if (flags & ACK).zero?
      when HEADERS then @script.call(conn, id)
      when GOAWAY then break
      end
    end
  rescue IOError, SystemCallError
    nil # the client went away, or the script dropped the connection
  ensure
    sock.close unless sock.closed?
  end
end
