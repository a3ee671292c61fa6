# frozen_string_literal: true

require "json"
require "uri"

module H2Client
  # An HTTP/2 client for any number of origins, holding 0..N connections to each: "http://"
  # URLs are HTTP/2 over cleartext with prior knowledge, "https://" URLs HTTP/2 over TLS.
  # An optional base URL lets requests name just a path; any request may name a full URL,
  # which goes to that URL's origin over that origin's own connections.
  #
  # Thread-safe: share one client between any number of threads; their requests are
  # multiplexed over its connections. A request blocks only the calling thread (the GVL is
  # released while it waits).
  #
  #   client = H2Client::Client.new("http://127.0.0.1:8080", request_timeout_ms: 5_000)
  #   res = client.get("/", headers: { "accept" => "text/plain" })
  #   res.status                 # => 200
  #   res.headers                # => {"content-type"=>"text/plain", ...}
  #   res.body                   # => "hello ..." (binary String)
  #   client.get("/big") { |chunk| file.write(chunk) }   # streams the body
  #   client.get("https://example.com/", query: { q: "h2" })   # another origin
  #   client.close
  #
  #   anywhere = H2Client::Client.new(follow_redirects: 5)     # no base URL: full URLs only
  #   anywhere.post("https://api.example.com/items", json: { name: "x" }).url
  class Client
    # Options that map to an h2_config_set_<name>(cfg, uint32_t) setter.
    UINT32_OPTIONS = %i[connect_timeout_ms request_timeout_ms headers_timeout_ms
                        body_idle_timeout_ms idle_timeout_ms keepalive_interval_ms
                        keepalive_timeout_ms settings_timeout_ms write_timeout_ms
                        max_connections max_connections_per_origin max_concurrent_streams
                        initial_window_size connection_window_size max_frame_size
                        max_header_list_size header_table_size max_retries
                        max_continuation_frames max_empty_data_frames max_pending_acks
                        max_glitches max_informational_responses
                        max_resets_per_second].freeze
    # Every option Client.new accepts.
    OPTIONS = (UINT32_OPTIONS + %i[max_response_body ca_file ca_pem insecure_skip_verify
                                    client_cert_file client_cert client_key tls_versions
                                    follow_redirects redirect_https_to_http proxy no_proxy
                                    resolve connect_to local_address unix_socket
                                    user_agent accept_encoding on_informational]).freeze

    # Redirects followed per request with <tt>follow_redirects: true</tt>.
    DEFAULT_MAX_REDIRECTS = 10
    # The content-type a +json:+ body is sent with, unless the caller gives one.
    JSON_CONTENT_TYPE = "application/json"
    # The content-type a +form:+ body is sent with, unless the caller gives one.
    FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

    # Largest piece of a streamed response body handed to a block at once.
    READ_CHUNK = 64 * 1024
    # Largest piece of a streamed request body passed to h2_call_write at once.
    WRITE_CHUNK = 64 * 1024

    UINT32_MAX = 0xffff_ffff
    UINT64_MAX = 0xffff_ffff_ffff_ffff
    EMPTY = [].freeze
    # "scheme:" at the start of an absolute URL (RFC 3986 §3.1).
    ABSOLUTE = /\A[A-Za-z][A-Za-z0-9+.-]*:/.freeze
    private_constant :UINT32_MAX, :UINT64_MAX, :EMPTY, :ABSOLUTE

    # The base URL given to new (a String), or nil for a client without one.
    attr_reader :base_url
    # The on_informational: callable given to new, or nil.
    attr_reader :on_informational

    # Like new, but with a block: yields the client and closes it when the block returns.
    def self.open(base_url = nil, **opts)
      client = new(base_url, **opts)
      return client unless block_given?

      begin
        yield client
      ensure
        client.close
      end
    end

    # A client, with or without a base URL. No connection is opened until the first request.
    #
    # base_url:: nil (the default): requests must name full URLs. A String (or URI)
    #            "http://host[:port]" or "https://host[:port]": requests may name just a
    #            path, which goes to this origin (any path in the base URL is ignored).
    #            Requests naming a full URL go to that URL's origin either way.
    #
    # Options (see h2client.h or the README for defaults):
    #
    # connect_timeout_ms, request_timeout_ms, headers_timeout_ms, body_idle_timeout_ms,
    # idle_timeout_ms, keepalive_interval_ms, keepalive_timeout_ms, settings_timeout_ms,
    # write_timeout_ms, max_connections, max_connections_per_origin, max_concurrent_streams,
    # initial_window_size, connection_window_size, max_frame_size, max_header_list_size,
    # header_table_size, max_retries:: Integers (h2_config_set_<name>). max_connections
    #        caps the whole client, max_connections_per_origin each origin.
    # max_response_body:: Integer, bytes.
    # ca_file:: path of a PEM file: trust only its CA certificates.
    # ca_pem:: the same as a String of PEM data.
    # insecure_skip_verify:: true accepts any certificate. Testing only.
    # client_cert_file:: [cert_pem_path, key_pem_path] for mutual TLS (or give
    #                    client_cert: and client_key:).
    # tls_versions:: :tls1_2, :tls1_3 or an Array of them (default both).
    # follow_redirects:: most redirects (301, 302, 303, 307, 308) followed per request:
    #                    an Integer, true (DEFAULT_MAX_REDIRECTS), or 0 / false / nil (the
    #                    default: none, the 3xx is the response). One more raises
    #                    TooManyRedirectsError.
    # redirect_https_to_http:: true follows a redirect from https to http (default false:
    #                          the 3xx is the response).
    # proxy:: nil (the default): from the environment (https_proxy, http_proxy, all_proxy
    #         and no_proxy, as curl reads them, when the client is created); "" or false: no
    #         proxy; else a proxy URL: "http://[user:password@]host:port" (CONNECT tunnels),
    #         "https://...", "socks5://..." or "socks5h://...".
    # no_proxy:: hosts that bypass the proxy, overriding the environment's no_proxy: a
    #            comma-separated String or an Array of host names (subdomains included), IP
    #            addresses, CIDR blocks, or "*".
    # resolve:: "HOST:PORT:ADDR[,ADDR]..." or an Array of them, as curl's --resolve:
    #           connections to HOST:PORT dial ADDR without DNS (the URL still names the host
    #           for :authority, SNI and the certificate check). Not used through a proxy.
    # connect_to:: "HOST1:PORT1:HOST2:PORT2" or an Array of them, as curl's --connect-to.
    # local_address:: local IP address (String or IPAddr) every socket binds to.
    # unix_socket:: path (String or Pathname) of a Unix domain socket every connection goes
    #               through instead of TCP, as curl's --unix-socket: the URLs still name
    #               the origin (http:// speaks h2c on the socket, https:// TLS checked
    #               against the URL's host). No proxy, resolve: or local_address: applies.
    #               Nobody listening raises ConnectError naming the path. nil or "": TCP.
    # user_agent:: the user-agent sent with every request that sets none in its headers:
    #              a String, or nil / false for none (default "h2client/VERSION", the C
    #              library's version).
    # accept_encoding:: transparent decompression, as curl's --compressed and Go's gzip:
    #                   true (or "") asks for every coding the library decodes ("gzip,
    #                   deflate, br, zstd"), a String for that accept-encoding list;
    #                   responses in those codings arrive decoded (Response#decoded?, their
    #                   content-encoding and content-length removed). nil / false: off (the
    #                   default). A corrupt body raises DecodeError.
    # on_informational:: called with <tt>status, headers</tt> (Integer, Hash as
    #                    Response#headers) for each informational (1xx) response, such as
    #                    103 Early Hints, that precedes a final response; see #request.
    # max_continuation_frames, max_empty_data_frames, max_pending_acks, max_glitches,
    # max_informational_responses, max_resets_per_second:: the library's defences against
    #        misbehaving servers (Integers; see h2client.h): CONTINUATION frames per
    #        header block (0 = derived from max_header_list_size), empty DATA frames and
    #        pointless frames (RST_STREAM, PRIORITY, unknown types) per connection per
    #        minute, PING/SETTINGS acks waiting for the socket, 1xx responses per request,
    #        resets we send per connection per second. Tripped limits count in #stats'
    #        limit_* fields.
    #
    # Raises ArgumentError for an unknown option, TypeError for a value of the wrong type,
    # InvalidArgumentError for a value out of range (or a malformed resolve: / connect_to: /
    # local_address:), InvalidURLError (base URL, proxy URL), TLSError (unreadable CA or
    # certificate file).
    def initialize(base_url = nil, **opts)
      @base_url = base_url.nil? ? nil : Client.url_string(:base_url, base_url)
      @on_informational = Client.callable(:on_informational, opts.delete(:on_informational))
      # In a forked child, before the library's threads start there (see Callbacks).
      Callbacks.after_fork
      cfg = Lib.h2_config_new
      raise NoMemoryError, "h2_config_new failed" if cfg.null?

      begin
        Client.configure(cfg, opts)
        ptr = Lib.h2_client_new(@base_url, cfg)
        raise Error.last if ptr.null?
      ensure
        Lib.h2_config_free(cfg)
      end
      # The finalizer frees the native client if the Client is garbage collected unclosed.
      @ptr = FFI::AutoPointer.new(ptr, Lib.method(:h2_client_free))
      # Requests in flight (one element each) and the token of the one free (see #enter).
      @inflight = []
      @free_once = [true]
      @closed = false
    end

    # GET +target+ (a path or a full URL). With a block, streams the body: see #request
    # (also for query:, the timeouts and on_informational:).
    def get(target, query: nil, headers: nil, timeout_ms: nil, headers_timeout_ms: nil,
            body_idle_timeout_ms: nil, on_informational: nil, &block)
      if block.nil? && query.nil? && headers.nil? && timeout_ms.nil? &&
         headers_timeout_ms.nil? && body_idle_timeout_ms.nil? && on_informational.nil?
        return perform_plain("GET", target)
      end

      perform("GET", target, query, headers, nil, nil, nil, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, block)
    end

    # HEAD +target+ (a path or a full URL); see #request.
    def head(target, query: nil, headers: nil, timeout_ms: nil, headers_timeout_ms: nil,
             body_idle_timeout_ms: nil, on_informational: nil)
      perform("HEAD", target, query, headers, nil, nil, nil, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, nil)
    end

    # POST +body+ (or +json+, or +form+) to +target+. With a block, streams the response
    # body: see #request.
    def post(target, body: nil, json: nil, form: nil, query: nil, headers: nil,
             timeout_ms: nil, headers_timeout_ms: nil, body_idle_timeout_ms: nil,
             on_informational: nil, &block)
      perform("POST", target, query, headers, body, json, form, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, block)
    end

    # PUT +body+ (or +json+, or +form+) to +target+; see #request.
    def put(target, body: nil, json: nil, form: nil, query: nil, headers: nil, timeout_ms: nil,
            headers_timeout_ms: nil, body_idle_timeout_ms: nil, on_informational: nil, &block)
      perform("PUT", target, query, headers, body, json, form, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, block)
    end

    # PATCH +body+ (or +json+, or +form+) to +target+; see #request.
    def patch(target, body: nil, json: nil, form: nil, query: nil, headers: nil,
              timeout_ms: nil, headers_timeout_ms: nil, body_idle_timeout_ms: nil,
              on_informational: nil, &block)
      perform("PATCH", target, query, headers, body, json, form, timeout_ms,
              headers_timeout_ms, body_idle_timeout_ms, on_informational, block)
    end

    # DELETE +target+; see #request.
    def delete(target, query: nil, headers: nil, timeout_ms: nil, headers_timeout_ms: nil,
               body_idle_timeout_ms: nil, on_informational: nil, &block)
      perform("DELETE", target, query, headers, nil, nil, nil, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, block)
    end

    # Sends a request and returns its Response. Any HTTP status is a success (also a 3xx
    # that is not followed); failures raise an H2Client::Error subclass.
    #
    # method:: "GET", "POST", ... (a Symbol is upcased: :get is "GET").
    # target:: a full URL ("https://host/index.html?q=1", a String or URI), sent to its
    #          origin; or a path ("/index.html?q=1"), sent to the base URL's origin. A path
    #          on a client without a base URL raises InvalidArgumentError. A fragment
    #          ("#...") is never sent.
    # query:: a Hash or an Array of [name, value] pairs, encoded with
    #         URI.encode_www_form (an Array value repeats the name) and appended to the
    #         target's query with "?" or "&".
    # headers:: Hash (or Array of pairs) of name => value; a value may be an Array of
    #           values. Names are lowercased by the library.
    # body:: nil, a String (sent as is, binary), or a streamed body: an IO-like object
    #        (responds to read) or an Enumerable of Strings. A streamed body is written by
    #        a helper thread while the response is read, so an echoing server works for
    #        any size; it is never retried once part of it went out, and a request with
    #        one follows no redirect (the 3xx is the response).
    # json:: an object sent as JSON.generate(json), with content-type application/json
    #        unless +headers+ has a content-type; no accept header is added (as HTTPX and
    #        Faraday).
    # form:: a Hash or an Array of [name, value] pairs sent as URI.encode_www_form(form)
    #        (an HTML form's encoding), with content-type
    #        application/x-www-form-urlencoded unless +headers+ has a content-type. Only
    #        one of +body+, +json+ and +form+ (ArgumentError).
    # timeout_ms, headers_timeout_ms, body_idle_timeout_ms:: this request's timeouts,
    #        overriding the client's.
    # on_informational:: called with <tt>status, headers</tt> (an Integer, and a Hash as
    #        Response#headers) for each informational (1xx) response to this request,
    #        such as 103 Early Hints, before the final response; overrides the client's
    #        on_informational: (false: none for this request). It runs on a library thread
    #        while that connection waits (see H2Client.on_log for how): keep it quick, and
    #        make no request from it (WrongThreadError). An exception in it is raised by
    #        this request once it returns, instead of its result.
    #
    # With a block, the response body is not buffered: the block is called with each
    # piece as it arrives (a binary String of at most READ_CHUNK bytes) and the Response
    # so far (status and headers set; trailers are added after the last piece), and the
    # Response is returned with a nil body. Breaking out of the block, or an exception in
    # it, cancels the request (RST_STREAM(CANCEL)).
    def request(method, target, query: nil, headers: nil, body: nil, json: nil, form: nil,
                timeout_ms: nil, headers_timeout_ms: nil, body_idle_timeout_ms: nil,
                on_informational: nil, &block)
      method = method.is_a?(Symbol) ? method.to_s.upcase : method.to_str
      perform(method, target, query, headers, body, json, form, timeout_ms, headers_timeout_ms,
              body_idle_timeout_ms, on_informational, block)
    end

    # The client's counters and state (h2_stats) summed over every origin, as a Hash of
    # Symbol => Integer: connections_open, connections_opening, connections_draining,
    # peer_max_concurrent_streams_min, peer_max_concurrent_streams_max, streams_active,
    # streams_queued, requests_completed, requests_failed, requests_retried, bytes_sent,
    # bytes_received, connections_opened, rtt_us, and the limit_* counters of the
    # library's defences (limit_continuation_flood, limit_header_list, ...).
    def stats
      st = Lib::Stats.new
      ptr = enter
      begin
        rc = Lib.h2_client_stats(ptr, st)
        raise Error.last(rc) unless rc == Lib::H2_OK
      ensure
        leave
      end
      Client.stats_hash(st)
    end

    # The counters and state of one origin, as #stats: +origin+ is "scheme://host[:port]"
    # (a String or URI; the default port may be left out, a path is ignored). An origin the
    # client holds nothing for (never used, or forgotten after its idle timeout) reads as
    # zeros. Raises InvalidURLError if +origin+ is not such a URL.
    def origin_stats(origin)
      origin = Client.url_string(:origin, origin)
      st = Lib::Stats.new
      ptr = enter
      begin
        rc = Lib.h2_client_origin_stats(ptr, origin, st)
        raise Error.last(rc) unless rc == Lib::H2_OK
      ensure
        leave
      end
      Client.stats_hash(st)
    end

    # Closes every connection of the client, of any origin, that has no request in flight
    # (GOAWAY, then close), as Go's Transport#CloseIdleConnections; returns how many. A
    # request that picks one of them meanwhile goes on another connection, never fails for
    # it; connections with requests in flight are left alone. Useful before a fork, after
    # a burst, or when a server's addresses changed (the next request dials afresh).
    def close_idle_connections
      ptr = enter
      s = Scratch.acquire
      begin
        rc = Lib.h2_client_close_idle_connections(ptr, s.len)
        raise Error.last(rc) unless rc == Lib::H2_OK

        s.len.get(:size_t, 0)
      ensure
        Scratch.release(s)
        leave
      end
    end

    # Closes the client: new requests raise ClosedError, and the native client is freed
    # (GOAWAY sent on its connections, which are then closed) as soon as no request of
    # this process is using it: at once if none is in flight, else when the last one
    # returns. Idempotent. A client that is never closed is freed when garbage collected.
    def close
      return nil if @closed

      @closed = true
      # Else the last request in flight frees it (see #enter).
      free_native if @inflight.empty?
      nil
    end

    # Whether close was called.
    def closed?
      @closed
    end

    # "#<H2Client::Client BASE_URL>" (or "(no base URL)"), "(closed)" once closed.
    def inspect
      "#<#{self.class} #{@base_url || '(no base URL)'}#{@closed ? ' (closed)' : ''}>"
    end

    # ----- internals ---------------------------------------------------------------------

    # A request with no option, body or block (the common GET): #perform's work for it
    # alone, in one call into the library (h2_client_fetch_into). Anything else goes to
    # #perform.
    def perform_plain(method, target)
      unless target.instance_of?(String) && @on_informational.nil? && target.valid_encoding?
        return perform(method, target, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
      end

      Callbacks.refuse_inside("a request")
      ptr = enter
      begin
        run_do(ptr, nil, method, target)
      ensure
        leave
      end
    end

    # The request behind get, post, ..., request: positional, to spare a keyword Hash.
    def perform(method, target, query, headers, body, json, form, timeout_ms,
                headers_timeout_ms, body_idle_timeout_ms, on_informational, block)
      Callbacks.refuse_inside("a request")
      target = Client.url_string(:target, target) unless target.instance_of?(String)
      target = Client.with_query(target, query) unless query.nil?
      content_type = nil
      unless json.nil? && form.nil?
        unless [body, json, form].count { |x| !x.nil? } == 1
          raise ArgumentError, "give only one of body:, json: and form:"
        end

        if json.nil?
          body = Client.form_string(form)
          content_type = FORM_CONTENT_TYPE unless Client.header?(headers, "content-type")
        else
          body = JSON.generate(json)
          content_type = JSON_CONTENT_TYPE unless Client.header?(headers, "content-type")
        end
      end
      hook = on_informational.nil? ? @on_informational : on_informational
      hook = Client.callable(:on_informational, hook) if hook
      source = nil
      unless body.nil? || body.is_a?(String)
        if body.respond_to?(:to_str)
          body = body.to_str
        elsif body.respond_to?(:read) || body.respond_to?(:each)
          source = body
          body = nil
        else
          raise TypeError, "body must be a String, an IO or an Enumerable of Strings, " \
                           "not #{body.class}"
        end
      end

      ptr = enter
      req = nil
      key = nil
      begin
        # Nothing to set on the request: one call into the library makes and sends it. (A
        # target not valid in its encoding goes the long way, whose check raises as before.)
        unless headers || content_type || body || source || timeout_ms || headers_timeout_ms ||
               body_idle_timeout_ms || hook || block || !target.valid_encoding?
          return run_do(ptr, nil, method, target)
        end

        req = if ABSOLUTE.match?(target)
                Lib.h2_request_new_url(method, target)
              else
                Lib.h2_request_new(method, target)
              end
        raise Error.last if req.null?

        if headers || content_type || body || source || timeout_ms || headers_timeout_ms ||
           body_idle_timeout_ms
          setup_request(req, headers, content_type, body, source, timeout_ms,
                        headers_timeout_ms, body_idle_timeout_ms)
        end
        if hook
          key, function = Callbacks.register(hook)
          check(Lib.h2_request_set_informational_callback(req, function, FFI::Pointer.new(key)))
        end
        if block || source
          run_call(ptr, req, source, block, key)
        else
          run_do(ptr, req)
        end
      ensure
        Lib.h2_request_free(req) if req
        leave
        if key
          # The hook's exception (the user's code, which ran first) replaces the result, or
          # the exception in flight.
          failed = Callbacks.unregister(key)&.error
          raise failed if failed
        end
      end
    end

    # Marks a request in flight; returns the native client. The in-flight list keeps close
    # from freeing the native client while another thread is about to use it (h2_client_free
    # must not race with new calls). No Mutex: Ruby refuses one in a signal trap handler,
    # where a request may be made; Array#push and #pop are each one step under the GVL. The
    # order makes it safe: a request is counted before it reads @closed, and close sets
    # @closed before it reads the count, so either close sees the request (and leaves the
    # free to the last one to leave) or the request sees @closed (and never uses the client).
    def enter
      @inflight.push(true)
      if @closed
        leave
        raise ClosedError.new("the client is closed", processed: :no)
      end
      @ptr
    end

    def leave
      @inflight.pop
      free_native if @closed && @inflight.empty?
    end

    # Frees the native client, once: close and the last request to leave can both get here,
    # and only one takes the token. The finalizer is disarmed first: h2_client_free blocks
    # (GVL released), and an interrupt pending when it returns is raised right away, which
    # inside AutoPointer#free would leave the finalizer armed to free the client again.
    def free_native
      return unless @free_once.pop

      @ptr.autorelease = false
      Lib.h2_client_free(@ptr)
    end

    def setup_request(req, headers, content_type, body, source, timeout_ms, headers_timeout_ms,
                      body_idle_timeout_ms)
      headers&.each do |name, value|
        name = name.to_s
        if value.is_a?(Array)
          value.each { |v| check(Lib.h2_request_add_header(req, name, v.to_s)) }
        else
          check(Lib.h2_request_add_header(req, name, value.to_s))
        end
      end
      check(Lib.h2_request_add_header(req, "content-type", content_type)) if content_type
      check(Lib.h2_request_set_body(req, body, body.bytesize)) if body && !body.empty?
      check(Lib.h2_request_set_streaming_body(req, true)) if source
      if timeout_ms
        check(Lib.h2_request_set_timeout_ms(req, Client.uint(:timeout_ms, timeout_ms)))
      end
      if headers_timeout_ms
        check(Lib.h2_request_set_headers_timeout_ms(
                req, Client.uint(:headers_timeout_ms, headers_timeout_ms)
              ))
      end
      return unless body_idle_timeout_ms

      check(Lib.h2_request_set_body_idle_timeout_ms(
              req, Client.uint(:body_idle_timeout_ms, body_idle_timeout_ms)
            ))
    end

    # h2_client_do: the whole response at once. Without +req+, h2_client_fetch_into makes
    # the request from +method+ and +target+ (a path, or a URL with its scheme).
    def run_do(ptr, req, method = nil, target = nil)
      s = Scratch.acquire
      unless req
        begin
          return s.fetch(ptr, method, target)
        ensure
          Scratch.release(s)
        end
      end

      out = s.out
      out.put_pointer(0, nil)
      begin
        rc = Lib.h2_client_do(ptr, req, out)
        raise Error.last(rc) unless rc == Lib::H2_OK

        resp = out.get_pointer(0)
        s.response(resp)
      ensure
        # Read from +out+ if +resp+ is not set: an interrupt (Thread#raise, Ctrl-C) pending
        # while h2_client_do waited is raised as soon as it returns, before the assignment.
        resp ||= out.get_pointer(0)
        Lib.h2_response_free(resp) unless resp.null?
        Scratch.release(s)
      end
    end

    # h2_client_start: the body read as it arrives (to a block, or into a String), and/or
    # the request body written as it is produced.
    def run_call(ptr, req, source, block, key = nil)
      s = Scratch.acquire
      out = s.out
      out.put_pointer(0, nil)
      call = nil
      writer = nil
      begin
        rc = Lib.h2_client_start(ptr, req, out)
        raise Error.last(rc) unless rc == Lib::H2_OK

        # Also an AutoPointer: freed by GC should an asynchronous exception cut the ensure.
        call = FFI::AutoPointer.new(out.get_pointer(0), Lib.method(:h2_call_free))
        writer = start_writer(call, source) if source
        begin
          response = read_call(call, block, s, key)
        rescue Error => e
          raise writer_failure(call, writer) || e if writer

          raise
        end
        if writer
          failure = writer_failure(call, writer)
          raise failure if failure
        end
        response
      ensure
        if writer&.alive?
          Lib.h2_call_cancel(call)
          writer.kill
          begin
            writer.join
          rescue Exception # rubocop:disable Lint/RescueException
            nil # already reported, or superseded by the exception in flight
          end
        end
        # Frees (and cancels, if it has not ended: a break out of the block) the call;
        # finalizer disarmed first, as in free_native.
        if call
          call.autorelease = false
          Lib.h2_call_free(call)
        else
          raw = out.get_pointer(0)
          Lib.h2_call_free(raw) unless raw.null?
        end
        Scratch.release(s)
      end
    end

    def read_call(call, block, s, key)
      rc = Lib.h2_call_wait_headers(call)
      # The 1xx responses came before the final head: a hook that failed stops the call
      # before the body is read (or handed to the block).
      Callbacks.check(key) if key
      raise Error.of_call(call, rc) unless rc == Lib::H2_OK

      status = Lib.h2_call_status(call)
      headers = s.packed(nil) { |b, l, c| Lib.h2_call_headers_packed(call, b, l, c) } || []
      body = block ? nil : String.new(encoding: Encoding::BINARY)
      # Final once the head has arrived: any redirects have been followed.
      response = Response.new(status, headers, body, EMPTY,
                              Client.native_url(Lib.h2_call_effective_url(call)),
                              Lib.h2_call_redirect_count(call),
                              decoded: Lib.h2_call_decoded(call))
      buf = s.read_buffer
      loop do
        rc = Lib.h2_call_read(call, buf, READ_CHUNK, s.len)
        raise Error.of_call(call, rc) unless rc == Lib::H2_OK

        n = s.len.get(:size_t, 0)
        break if n.zero?

        chunk = buf.get_bytes(0, n)
        if block
          block.call(chunk, response)
        else
          body << chunk
        end
      end
      trailers = s.packed(nil) { |b, l, c| Lib.h2_call_trailers_packed(call, b, l, c) }
      response._set_trailers(trailers) if trailers
      response
    end

    # A thread writing the streamed body +source+ to +call+, then ending it. The GVL is
    # released while h2_call_write waits for flow control, so the calling thread reads the
    # response meanwhile (required when the server answers before reading everything).
    def start_writer(call, source)
      Thread.new do
        Thread.current.report_on_exception = false
        Thread.current.name = "h2client body writer"
        buf = FFI::MemoryPointer.new(:uint8, WRITE_CHUNK)
        Client.each_chunk(source) do |chunk|
          size = chunk.bytesize
          off = 0
          while off < size
            n = size - off
            n = WRITE_CHUNK if n > WRITE_CHUNK
            buf.put_bytes(0, chunk, off, n)
            rc = Lib.h2_call_write(call, buf, n)
            raise Error.of_call(call, rc) unless rc == Lib::H2_OK

            off += n
          end
        end
        rc = Lib.h2_call_finish(call)
        raise Error.of_call(call, rc) unless rc == Lib::H2_OK

        nil
      rescue Exception # rubocop:disable Lint/RescueException
        # The body source failed (or the call did): stop the exchange, so that the
        # reading thread does not wait for a response to a request that never ends.
        Lib.h2_call_cancel(call)
        raise
      end
    end

    # The exception to raise for the body writer, or nil. A failure of the body source
    # itself (not an H2Client::Error) is the root cause of whatever the reader saw; the
    # writer's H2Client errors only repeat the call's. A writer still running (the response
    # ended, or failed, while the body was being produced) is stopped: the stream is over.
    def writer_failure(call, writer)
      if writer.alive?
        Lib.h2_call_cancel(call) # harmless after the call has ended
        writer.kill
      end
      begin
        writer.join
        nil
      rescue Error
        nil
      rescue Exception => e # rubocop:disable Lint/RescueException
        e
      end
    end

    def check(rc)
      raise Error.last(rc) unless rc == Lib::H2_OK
    end

    private :perform, :enter, :leave, :free_native, :setup_request, :run_do, :run_call, :read_call,
            :start_writer, :writer_failure, :check

    # ----- class helpers -----------------------------------------------------------------

    # Yields each String of a streamed body: an IO-like source is read in WRITE_CHUNK
    # pieces, anything else is iterated with each.
    def self.each_chunk(source)
      if source.respond_to?(:read)
        buf = String.new(capacity: WRITE_CHUNK)
        while source.read(WRITE_CHUNK, buf)
          yield buf
        end
      else
        source.each do |chunk|
          chunk = chunk.to_str
          yield chunk unless chunk.empty?
        end
      end
    end

    # +value+ checked as an Integer in 0..max (TypeError, InvalidArgumentError).
    def self.uint(name, value, max = UINT32_MAX)
      unless value.is_a?(Integer)
        raise TypeError, "#{name}: expected an Integer, got #{value.inspect}"
      end
      unless value.between?(0, max)
        raise InvalidArgumentError.new("#{name}: #{value} is out of range (0..#{max})",
                                       processed: :no)
      end

      value
    end

    # Applies +opts+ to the h2_config +cfg+.
    def self.configure(cfg, opts)
      opts = opts.dup
      cert = opts.delete(:client_cert)
      key = opts.delete(:client_key)
      if cert || key
        raise ArgumentError, "client_cert: and client_key: go together" unless cert && key

        opts[:client_cert_file] = [cert, key]
      end
      opts.each do |name, value|
        rc =
          case name
          when *UINT32_OPTIONS
            Lib.public_send(:"h2_config_set_#{name}", cfg, uint(name, value))
          when :max_response_body
            Lib.h2_config_set_max_response_body(cfg, uint(name, value, UINT64_MAX))
          when :ca_file
            Lib.h2_config_set_ca_file(cfg, path_string(value))
          when :ca_pem
            pem = value.to_str
            Lib.h2_config_set_ca_pem(cfg, pem, pem.bytesize)
          when :insecure_skip_verify
            Lib.h2_config_set_insecure_skip_verify(cfg, value ? true : false)
          when :client_cert_file
            cert, key = value
            Lib.h2_config_set_client_cert_file(cfg, path_string(cert), path_string(key))
          when :tls_versions
            Lib.h2_config_set_tls_versions(cfg, tls_versions(value))
          when :follow_redirects
            Lib.h2_config_set_follow_redirects(cfg, max_redirects(value))
          when :redirect_https_to_http
            Lib.h2_config_set_redirect_https_to_http(cfg, value ? 1 : 0)
          when :proxy
            next if value.nil? # the environment's

            Lib.h2_config_set_proxy(cfg, value == false ? "" : url_string(:proxy, value))
          when :no_proxy
            next if value.nil? # the environment's

            Lib.h2_config_set_no_proxy(cfg, list_string(:no_proxy, value))
          when :resolve
            add_each(cfg, :resolve, value) { |c, e| Lib.h2_config_add_resolve(c, e) }
          when :connect_to
            add_each(cfg, :connect_to, value) { |c, e| Lib.h2_config_add_connect_to(c, e) }
          when :local_address
            next if value.nil? # the system's choice

            Lib.h2_config_set_local_address(cfg, address_string(value))
          when :unix_socket
            Lib.h2_config_set_unix_socket(cfg, value.nil? ? nil : path_string(value))
          when :user_agent
            Lib.h2_config_set_user_agent(cfg, value ? string(:user_agent, value) : nil)
          when :accept_encoding
            next unless value # off, the library's default

            list = value == true ? "" : string(:accept_encoding, value)
            Lib.h2_config_set_accept_encoding(cfg, list)
          else
            raise ArgumentError, "unknown option #{name.inspect} (known: #{OPTIONS.join(', ')})"
          end
        raise Error.last(rc) unless rc == Lib::H2_OK
      end
    end

    # +value+ if it responds to call (or nil / false, as nil), else TypeError.
    def self.callable(name, value)
      return nil if value.nil? || value == false
      return value if value.respond_to?(:call)

      raise TypeError, "#{name}: expected a Proc (anything with call), got #{value.class}"
    end

    # +value+ as a String (anything with to_str), else TypeError.
    def self.string(name, value)
      return value.to_str if value.respond_to?(:to_str)

      raise TypeError, "#{name}: expected a String, got #{value.class}"
    end

    # form: (a Hash or an Array of pairs) encoded as an HTML form.
    def self.form_string(form)
      unless form.is_a?(Hash) || form.is_a?(Array)
        raise TypeError, "form: expected a Hash or an Array of pairs, got #{form.class}"
      end

      URI.encode_www_form(form)
    end

    # A file path given as a String or a Pathname (anything with to_path).
    def self.path_string(value)
      return value.to_path if value.respond_to?(:to_path)
      return value.to_str if value.respond_to?(:to_str)

      raise TypeError, "expected a path (String or Pathname), got #{value.class}"
    end

    # A URL or path given as a String (anything with to_str) or a URI.
    def self.url_string(name, value)
      return value.to_str if value.respond_to?(:to_str)
      return value.to_s if value.is_a?(URI::Generic)

      raise TypeError, "#{name}: expected a URL String or URI, got #{value.class}"
    end

    # +target+ with the encoded +query+ appended to its query (before any fragment).
    def self.with_query(target, query)
      unless query.is_a?(Hash) || query.is_a?(Array)
        raise TypeError, "query: expected a Hash or an Array of pairs, got #{query.class}"
      end
      return target if query.empty?

      encoded = URI.encode_www_form(query)
      cut = target.index("#")
      base = cut ? target[0, cut] : target
      separator = if !base.include?("?") then "?"
                  elsif base.end_with?("?", "&") then ""
                  else "&"
                  end
      "#{base}#{separator}#{encoded}#{cut ? target[cut..] : ''}"
    end

    # Whether the Hash or Array of pairs +headers+ names +name+ (lowercase), in any case.
    def self.header?(headers, name)
      return false if headers.nil?

      headers.any? { |n, _| n.to_s.casecmp?(name) }
    end

    # A URL from the library (ASCII: WHATWG-serialized) as a frozen UTF-8 String.
    def self.native_url(str)
      str&.force_encoding(Encoding::UTF_8)&.freeze
    end

    # An h2_stats struct as a Hash of Symbol => Integer (without the reserved words).
    def self.stats_hash(st)
      (Lib::Stats.members - [:reserved]).to_h { |m| [m, st[m]] }
    end

    # follow_redirects: as the count for h2_config_set_follow_redirects.
    def self.max_redirects(value)
      case value
      when nil, false then 0
      when true then DEFAULT_MAX_REDIRECTS
      else uint(:follow_redirects, value)
      end
    end

    # no_proxy: a String, or an Array of hosts joined with ",".
    def self.list_string(name, value)
      return value.to_str if value.respond_to?(:to_str)
      return value.map { |v| v.to_s.strip }.join(",") if value.is_a?(Array)

      raise TypeError, "#{name}: expected a String or an Array, got #{value.class}"
    end

    # Calls the block with +cfg+ and each entry of +value+ (a String, an Array of them, or
    # nil for none); returns H2_OK or the first failure.
    def self.add_each(cfg, name, value)
      entries = value.is_a?(Array) ? value : [value].compact
      entries.each do |entry|
        unless entry.respond_to?(:to_str)
          raise TypeError, "#{name}: expected a String or an Array of Strings, " \
                           "got #{entry.class}"
        end
        rc = yield(cfg, entry.to_str)
        return rc unless rc == Lib::H2_OK
      end
      Lib::H2_OK
    end

    # local_address: a String, or an IPAddr.
    def self.address_string(value)
      return value.to_str if value.respond_to?(:to_str)
      return value.to_s if defined?(IPAddr) && value.is_a?(IPAddr)

      raise TypeError, "local_address: expected an IP address String or IPAddr, " \
                       "got #{value.class}"
    end

    TLS_VERSIONS = { tls1_2: Lib::H2_TLS_1_2, tls1_3: Lib::H2_TLS_1_3,
                     "1.2" => Lib::H2_TLS_1_2, "1.3" => Lib::H2_TLS_1_3 }.freeze

    # tls_versions: (a Symbol, a String, an Array of them, or the C bit mask) as the mask.
    def self.tls_versions(value)
      return value if value.is_a?(Integer)

      Array(value).inject(0) do |acc, v|
        acc | TLS_VERSIONS.fetch(v) do
          raise ArgumentError, "tls_versions: unknown version #{v.inspect} " \
                               "(use :tls1_2, :tls1_3)"
        end
      end
    end

    # Native scratch memory for out-parameters, so that a request allocates no
    # FFI::MemoryPointer. Taken exclusively while a request uses it, from a pool of free
    # ones: a request made meanwhile (on another thread, inside a streaming block, or in a
    # signal trap handler that runs when a blocking call returns) takes another.
    class Scratch # :nodoc:
      # Offsets of the three out-parameters of the *_packed functions in @packed.
      PACKED_LEN = FFI::Type::POINTER.size
      PACKED_COUNT = PACKED_LEN + FFI.find_type(:size_t).size

      attr_reader :out, :len

      # Scratches not in use, shared by every thread: Array#pop and #push are each one
      # step under CRuby's GVL, cheaper than a fiber-local.
      FREE = []
      # Kept for reuse at most: as many as requests were in flight at once, up to this.
      KEEP = 64

      def self.acquire
        FREE.pop || new
      end

      def self.release(scratch)
        FREE.push(scratch) if FREE.size < KEEP
      end

      # Offsets of h2_response_parts' fields in @parts.
      PARTS = Lib::ResponseParts.size
      HEADERS, HEADERS_LEN, HEADER_COUNT, BODY, BODY_LEN, TRAILERS, TRAILERS_LEN, TRAILER_COUNT,
        URL, URL_LEN, REDIRECTS, STATUS, DECODED =
        %i[headers headers_len header_count body body_len trailers trailers_len trailer_count
           effective_url effective_url_len redirect_count status decoded]
        .map { |f| Lib::ResponseParts.offset_of(f) }

      def initialize
        @parts = FFI::MemoryPointer.new(:uint8, PARTS)
        @parts.put_ulong(0, PARTS) # struct_size, which the library leaves as it is
        @out = FFI::MemoryPointer.new(:pointer)
        @strings = [FFI::MemoryPointer.new(:uint8, 16), FFI::MemoryPointer.new(:uint8, 256)]
        @string_sizes = [16, 256]
        @len = FFI::MemoryPointer.new(:size_t)
        @packed = FFI::MemoryPointer.new(:uint8, PACKED_COUNT + FFI.find_type(:size_t).size)
        @packed_len = @packed + PACKED_LEN
        @packed_count = @packed + PACKED_COUNT
        @read_buffer = nil
        @copy = nil
      end

      def read_buffer
        @read_buffer ||= FFI::MemoryPointer.new(:uint8, READ_CHUNK)
      end

      # The fields that a *_packed function (called by the block with its three
      # out-pointers: buffer, length, count) hands out in one call, copied into one binary
      # String (name\0value\0..., for Response.unpack); +none+ if there are none. No call
      # into the library per field.
      def packed(none)
        rc = yield(@packed, @packed_len, @packed_count)
        raise Error.last(rc) unless rc == Lib::H2_OK
        return none if @packed_count.get(:size_t, 0).zero?

        @packed.get_pointer(0).get_bytes(0, @packed_len.get(:size_t, 0))
      end

      # +str+ as a NUL-terminated native string, in this scratch's buffer number +slot+,
      # for a call that runs without the GVL. A NUL inside is refused as FFI refuses it.
      def c_string(slot, str)
        raise ArgumentError, "string contains null byte" if str.include?("\0")

        buf = @strings[slot]
        # (The sizes kept in Ruby: MemoryPointer#size is a call into ffi.)
        if @string_sizes[slot] <= str.bytesize
          buf = @strings[slot] = FFI::MemoryPointer.new(:uint8, str.bytesize + 1)
          @string_sizes[slot] = str.bytesize + 1
        end
        buf.put_string(0, str) # its bytes and a NUL
        buf
      end

      # The common methods as native strings, made once.
      METHODS = %w[GET HEAD POST PUT DELETE PATCH OPTIONS].to_h do |m|
        [m, FFI::MemoryPointer.from_string(m)]
      end.freeze

      # Bytes of the buffer h2_client_fetch_into copies a response into when it fits (header
      # fields, body, trailers, URL); a larger one is read where the library holds it.
      COPY = 16 * 1024

      # The Response to +method+ +target+ from the native client +client+, made, sent and
      # read with one call into the library (h2_client_fetch_into). A response that fits in
      # this scratch's buffer comes copied there (the library has freed it): its parts are
      # read at their offsets, with no FFI::Pointer made and nothing to free. A larger one is
      # read from the native response, then freed.
      def fetch(client, method, target)
        out = @out
        out.put_pointer(0, nil)
        copy = (@copy ||= FFI::MemoryPointer.new(:uint8, COPY))
        owned = true # until known to be copied: *out may hold a response to free
        begin
          rc = Lib.h2_client_fetch_into(client, METHODS[method] || c_string(0, method),
                                        c_string(1, target), @parts, copy, COPY, out)
          raise Error.last(rc) unless rc == Lib::H2_OK

          # (== 0 rather than zero? here and below: an instruction, not a method call.)
          if out.get_ulong(0) == 0
            owned = false
            return copied_response(copy)
          end
          from_parts
        ensure
          # Also when an interrupt (Thread#raise, Ctrl-C) pending while the call waited is
          # raised as soon as it returns, before +rc+ is set.
          Lib.h2_response_free(out.get_pointer(0)) if owned && out.get_ulong(0) != 0
        end
      end

      # The Response for the native response +resp+, copied out with one call into the
      # library (h2_response_get_parts) rather than one per part: each costs about a
      # microsecond through FFI. Header fields are split into pairs by the Response, if read.
      def response(resp)
        rc = Lib.h2_response_get_parts(resp, @parts)
        raise Error.last(rc) unless rc == Lib::H2_OK

        from_parts
      end

      # The Response that @parts describes, its pointers into a native response.
      def from_parts
        p = @parts
        headers = p.get_ulong(HEADER_COUNT).zero? ? [] : p.get_pointer(HEADERS).get_bytes(0, p.get_ulong(HEADERS_LEN))
        len = p.get_ulong(BODY_LEN)
        body = len.zero? ? String.new : p.get_pointer(BODY).get_bytes(0, len)
        trailers = if p.get_ulong(TRAILER_COUNT).zero?
                     EMPTY
                   else
                     p.get_pointer(TRAILERS).get_bytes(0, p.get_ulong(TRAILERS_LEN))
                   end
        new_response(headers, body, trailers, p.get_pointer(URL).get_bytes(0, p.get_ulong(URL_LEN)))
      end

      # The Response that @parts describes, its parts copied into +buf+ one after the other
      # (header fields, body, trailers, URL): a field list is never empty, so a length of 0
      # is a part without fields.
      def copied_response(buf)
        p = @parts
        headers_len = p.get_ulong(HEADERS_LEN)
        body_len = p.get_ulong(BODY_LEN)
        trailers_len = p.get_ulong(TRAILERS_LEN)
        headers = headers_len == 0 ? [] : buf.get_bytes(0, headers_len)
        body = body_len == 0 ? String.new : buf.get_bytes(headers_len, body_len)
        at = headers_len + body_len
        trailers = trailers_len == 0 ? EMPTY : buf.get_bytes(at, trailers_len)
        new_response(headers, body, trailers, buf.get_bytes(at + trailers_len, p.get_ulong(URL_LEN)))
      end

      # The Response of these parts and of @parts' numbers.
      def new_response(headers, body, trailers, url)
        p = @parts
        url.force_encoding(Encoding::UTF_8).freeze
        # decoded: only when true: keywords through Class#new cost a Hash.
        if p.get_uint8(DECODED) == 0
          Response.new(p.get_uint16(STATUS), headers, body, trailers, url, p.get_uint32(REDIRECTS))
        else
          Response.new(p.get_uint16(STATUS), headers, body, trailers, url, p.get_uint32(REDIRECTS),
                       decoded: true)
        end
      end

      # As #packed, split into an Array of frozen [name, value] pairs.
      def fields(&block)
        bytes = packed(nil, &block)
        bytes ? Response.unpack(bytes) : []
      end
    end
  end
end
