# frozen_string_literal: true

require "faraday"
require "tempfile"
require "h2client"

module H2Client
  # A Faraday adapter (Faraday 1.x, as Debian 12 ships it, and 2.x): HTTP/2 for a Faraday
  # connection by changing one line.
  #
  #   require "h2client/faraday"
  #   conn = Faraday.new("https://api.example.com", request: { timeout: 10 }) do |f|
  #     f.request :url_encoded
  #     f.adapter :h2client           # instead of Faraday.default_adapter
  #   end
  #   conn.get("/items", page: 2).body
  #
  # "http://" URLs speak HTTP/2 over cleartext with prior knowledge (the server must speak
  # HTTP/2: there is no HTTP/1.1 fallback), "https://" URLs HTTP/2 over TLS. The adapter
  # keeps an H2Client::Client (one for every origin, its connections reused by every
  # request and thread) per distinct set of connection settings below; Faraday::Connection#close
  # closes them (the next request opens new ones).
  #
  # From Faraday's env:
  # * method, url (with params), request headers (Faraday's User-Agent replaces
  #   h2client's), body: a String, or an IO (multipart uploads are streamed);
  # * request options: +timeout+ bounds the whole request (h2client's timeout_ms: the
  #   connection, the head and the body, as curl-based adapters take it) and, unless
  #   +open_timeout+ is set, the connection's setup; +open_timeout+ the connection's setup
  #   (connect_timeout_ms: DNS, TCP, TLS); +read_timeout+ the wait for the response head
  #   and every gap between pieces of the body (headers_timeout_ms, body_idle_timeout_ms);
  #   +write_timeout+ a socket accepting no bytes (write_timeout_ms); +on_data+ streams the
  #   body (called with each chunk and the size so far, and the env if it takes three
  #   arguments; once with "" and 0 for an empty body, as Faraday's Net::HTTP adapter);
  #   +proxy+ (as Faraday resolved it, environment included; none: no proxy); +bind+'s
  #   host (local_address);
  # * ssl: +verify+ (false, or verify_mode VERIFY_NONE: insecure_skip_verify), +ca_file+,
  #   +client_cert+ / +client_key+ (OpenSSL objects, or paths of PEM files), +version+,
  #   +min_version+, +max_version+ (TLS 1.2 and 1.3 only). +ca_path+ and +cert_store+ are
  #   refused (ArgumentError) rather than ignored.
  #
  # Adapter options (<tt>f.adapter :h2client, max_connections_per_origin: 4</tt>) are
  # Client.new options applied to every client the adapter makes (the env's settings win);
  # a block is called with each new client.
  #
  # Errors: H2Client::TimeoutError raises Faraday::TimeoutError, H2Client::TLSError
  # Faraday::SSLError, the other failures to get a response (ConnectError,
  # ConnectionError, ProtocolError, StreamResetError, GoAwayError, RefusedError,
  # ProxyError, ...) Faraday::ConnectionFailed, each wrapping the H2Client error
  # (Faraday::Error#wrapped_exception). Mistakes in the request (InvalidArgumentError,
  # InvalidURLError) are raised as they are. Responses are never errors here: add
  # <tt>f.response :raise_error</tt> for that.
  class FaradayAdapter < ::Faraday::Adapter
    # H2Client errors raised as Faraday::ConnectionFailed.
    CONNECTION_FAILED = [ConnectError, ConnectionError, ProtocolError, StreamResetError,
                         GoAwayError, RefusedError, ProxyError, HeadersTooLargeError,
                         BodyTooLargeError, CanceledError, ClosedError, TooManyRedirectsError,
                         ForkedError].freeze
    # TLS versions by the numbers Faraday's ssl options may give (OpenSSL's constants,
    # Symbols or Strings such as :TLS1_2, "TLSv1_2").
    TLS_VERSIONS = { 0x0301 => 10, 0x0302 => 11, 0x0303 => 12, 0x0304 => 13,
                     "TLS1" => 10, "TLS10" => 10, "TLS11" => 11, "TLS12" => 12,
                     "TLS13" => 13, "SSL2" => 2, "SSL3" => 3, "SSL23" => 3 }.freeze
    UINT32_MAX = 0xffff_ffff
    private_constant :UINT32_MAX

    # +opts+: Client.new options for every client; +block+: called with each new client.
    def initialize(app = nil, opts = {}, &block)
      super
      @lock = Mutex.new
      @clients = {}
      @pid = Process.pid
    end

    # Sends the env's request and saves the response into it.
    def call(env)
      super
      request = env.request
      client = connection(env)
      args = { headers: env.request_headers, body: env.body }
      add_request_timeouts(args, request)
      method = env.method.to_s.upcase
      if request.stream_response?
        response = stream(client, method, env, args)
        save_response(env, response.status, +"", response.headers)
      else
        response = client.request(method, env.url, **args)
        save_response(env, response.status, response.body, response.headers)
      end
      @app.call(env)
    rescue H2Client::TimeoutError => e
      raise ::Faraday::TimeoutError, e
    rescue H2Client::TLSError => e
      raise ::Faraday::SSLError, e
    rescue *CONNECTION_FAILED => e
      raise ::Faraday::ConnectionFailed, e
    end

    # Closes the clients made so far; the next request makes new ones.
    def close
      clients = @lock.synchronize do
        list = @clients.values
        @clients = {}
        list
      end
      clients.each(&:close)
      nil
    end

    # The client for the env's connection settings (made on first use). Used through
    # Faraday::Adapter#connection.
    def build_connection(env)
      settings = client_settings(env)
      @lock.synchronize do
        if @pid != Process.pid
          # A forked child cannot use its parent's clients (ForkedError): forget them.
          @clients = {}
          @pid = Process.pid
        end
        @clients[settings] ||= new_client(settings)
      end
    end

    private

    def stream(client, method, env, args)
      on_data = env.request.on_data
      with_env = on_data.arity == 3
      size = 0
      response = client.request(method, env.url, **args) do |chunk, head|
        if size.zero?
          # As a Faraday 2 adapter does, so that on_data can look at the status.
          env.status = head.status
          env.response_headers = ::Faraday::Utils::Headers.new.update(head.headers)
        end
        size += chunk.bytesize
        with_env ? on_data.call(chunk, size, env) : on_data.call(chunk, size)
      end
      if size.zero?
        with_env ? on_data.call(+"", 0, env) : on_data.call(+"", 0)
      end
      response
    end

    def add_request_timeouts(args, request)
      if (sec = request.timeout)
        args[:timeout_ms] = milliseconds(:timeout, sec)
      end
      return unless (sec = request.read_timeout)

      args[:headers_timeout_ms] = args[:body_idle_timeout_ms] = milliseconds(:read_timeout, sec)
    end

    # The settings that need a client of their own, as a frozen Hash of Client.new options
    # (PEM texts instead of client certificate objects).
    def client_settings(env)
      request = env.request
      settings = {}
      if (sec = request.open_timeout || request.timeout)
        settings[:connect_timeout_ms] = milliseconds(:open_timeout, sec)
      end
      if (sec = request.write_timeout)
        settings[:write_timeout_ms] = milliseconds(:write_timeout, sec)
      end
      settings[:proxy] = request.proxy ? proxy_url(request.proxy) : false
      if (bind = request.bind)
        raise ArgumentError, "h2client adapter: bind: a local port is not supported" if bind[:port]

        settings[:local_address] = bind[:host]
      end
      add_tls_settings(settings, env.ssl) if env.url.scheme == "https" && env.ssl
      settings.freeze
    end

    def add_tls_settings(settings, ssl)
      if ssl.ca_path || ssl.cert_store
        raise ArgumentError, "h2client adapter: ssl ca_path and cert_store are not supported " \
                             "(use ca_file)"
      end
      settings[:insecure_skip_verify] = true if ssl.verify == false || ssl.verify_mode == 0
      settings[:ca_file] = ssl.ca_file.to_s if ssl.ca_file
      cert = ssl.client_cert || (ssl.respond_to?(:certificate) && ssl.certificate)
      key = ssl.client_key || (ssl.respond_to?(:private_key) && ssl.private_key)
      if cert || key
        raise ArgumentError, "h2client adapter: ssl client_cert and client_key go together" \
          unless cert && key

        settings[:client_pem] = [pem_or_path(cert), pem_or_path(key)]
      end
      versions = tls_versions(ssl)
      settings[:tls_versions] = versions if versions
    end

    # [:pem, text] for an OpenSSL object, [:path, path] for a path.
    def pem_or_path(value)
      return [:pem, value.to_pem] if value.respond_to?(:to_pem)
      return [:path, value.to_path] if value.respond_to?(:to_path)

      [:path, value.to_str]
    end

    def tls_versions(ssl)
      min = tls_number(ssl.min_version || ssl.version)
      max = tls_number(ssl.max_version || ssl.version)
      return nil if min.nil? && max.nil?

      list = { 12 => :tls1_2, 13 => :tls1_3 }.select do |n, _|
        (min.nil? || n >= min) && (max.nil? || n <= max)
      end.values
      raise ArgumentError, "h2client adapter: only TLS 1.2 and 1.3 are supported" if list.empty?

      list
    end

    def tls_number(value)
      return nil if value.nil?

      key = value
      key = value.to_s.upcase.delete("^A-Z0-9").sub(/\A(TLS|SSL)V/, '\1') unless key.is_a?(Integer)
      TLS_VERSIONS.fetch(key) do
        raise ArgumentError, "h2client adapter: unknown TLS version #{value.inspect}"
      end
    end

    # The proxy's URL with its credentials (percent-encoded) in it.
    def proxy_url(proxy)
      uri = proxy.uri.dup
      if proxy.user
        uri.userinfo = [proxy.user, proxy.password].compact.map { |s| escape_userinfo(s) }
                                                           .join(":")
      end
      uri.to_s
    end

    def escape_userinfo(text)
      text.to_s.b.gsub(/[^A-Za-z0-9\-._~]/n) { |c| format("%%%02X", c.ord) }
    end

    def milliseconds(name, seconds)
      unless seconds.is_a?(Numeric) && seconds.positive?
        raise ArgumentError, "h2client adapter: #{name}: expected a positive number of " \
                             "seconds, got #{seconds.inspect}"
      end

      (seconds * 1000).ceil.clamp(1, UINT32_MAX)
    end

    def new_client(settings)
      opts = (@connection_options || {}).merge(settings)
      temp = []
      if (pair = opts.delete(:client_pem))
        cert, key = pair.map do |kind, value|
          next value if kind == :path

          file = Tempfile.new(["h2client-faraday", ".pem"])
          temp << file
          file.write(value)
          file.close
          file.path
        end
        opts[:client_cert] = cert
        opts[:client_key] = key
      end
      # The library reads certificate files when the client is made.
      client = Client.new(nil, **opts)
      @config_block&.call(client)
      client
    ensure
      temp&.each(&:close!)
    end
  end
end

Faraday::Adapter.register_middleware(h2client: H2Client::FaradayAdapter)
