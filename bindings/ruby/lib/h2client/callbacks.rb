# frozen_string_literal: true

require "logger"

module H2Client
  # The C library's log levels (h2_set_log_callback), least to most detailed.
  LOG_LEVELS = { off: Lib::H2_LOG_OFF, error: Lib::H2_LOG_ERROR, warn: Lib::H2_LOG_WARN,
                 info: Lib::H2_LOG_INFO, debug: Lib::H2_LOG_DEBUG,
                 trace: Lib::H2_LOG_TRACE }.freeze

  # Ruby code run for the C library, on its threads: the log handler and the
  # informational (1xx) hooks of requests.
  #
  # How it runs: when a thread Ruby does not know calls an FFI callback, the ffi gem queues
  # the call for its "FFI Callback Dispatcher" thread, which starts a Ruby thread ("FFI
  # Callback Runner") to run it once it gets the GVL; the library thread waits until the
  # Ruby code has returned. So a callback costs a Ruby thread's start, holds up the library
  # thread (and the connection it serves) for as long as it runs, and waits for the GVL
  # behind busy Ruby threads. A message logged on a Ruby thread (inside a request, a
  # client's creation) runs on that thread.
  #
  # Lifetimes: each C callback is one FFI::Function, made on first use and kept for the life
  # of the process, whose userdata is a key (an Integer), never a Ruby object's address. A
  # call the library makes late (after its request returned) finds no key and does
  # nothing; nothing the library holds can be garbage collected.
  #
  # fork: ffi's dispatcher thread does not exist in a forked child, and ffi < 1.17 starts a
  # new one only when an FFI::Function is made there; until then a library thread calling
  # back would wait forever. The binding makes one (after_fork) before the child's first
  # client starts the library's threads, and before a request registers a hook or the log
  # handler changes there.
  module Callbacks # :nodoc:
    # A thread variable set while the thread runs a callback: a request, or a change of the
    # log handler, from there could wait for the library thread that waits for the callback.
    INSIDE = :__h2client_in_callback__

    # An informational hook: the callable, and the first exception it raised.
    Hook = Struct.new(:callable, :error)

    # Logger severities for the library's levels (trace is Logger::DEBUG too).
    SEVERITIES = { Lib::H2_LOG_ERROR => Logger::ERROR, Lib::H2_LOG_WARN => Logger::WARN,
                   Lib::H2_LOG_INFO => Logger::INFO, Lib::H2_LOG_DEBUG => Logger::DEBUG,
                   Lib::H2_LOG_TRACE => Logger::DEBUG }.freeze
    LEVEL_NAMES = LOG_LEVELS.invert.freeze

    @lock = Mutex.new
    @hooks = {}
    @pid = Process.pid
    @informational_function = nil
    @log_function = nil
    @log_lock = Mutex.new
    @log_handler = nil
    @log_level = :off
    @logger = nil
    @at_exit = false
    @log_failed = false
    # One element per callback running, on any thread. (Array#push and #pop are each one
    # step under the GVL; a Mutex would raise in a signal trap handler, where a request, and
    # so a log message, can be made.)
    @inside = []

    class << self
      # The current log handler's level (a LOG_LEVELS key) and, if set with H2Client.logger=,
      # its Logger.
      attr_reader :log_level, :logger

      # ----- informational hooks ---------------------------------------------------------

      # The h2_informational_fn function (made on first use, kept forever).
      def informational_function
        @informational_function || @lock.synchronize do
          @informational_function ||=
            FFI::Function.new(:void, %i[pointer pointer]) do |key, head|
              informational(key.address, head)
            end
        end
      end

      # Registers +callable+ for one request; returns its key (the callback's userdata): the
      # hook's object_id, which Ruby (>= 2.7) never gives another object, so a late call
      # cannot find another request's hook. The table is read and changed with no Mutex:
      # each Hash operation is one step under the GVL, and a request (which registers its
      # hook) may be made in a signal trap handler, where Ruby refuses a Mutex.
      def register(callable)
        after_fork
        function = informational_function
        hook = Hook.new(callable, nil)
        key = hook.object_id
        @hooks[key] = hook
        [key, function]
      end

      # Removes the hook of +key+ and returns it (nil if unknown).
      def unregister(key)
        @hooks.delete(key)
      end

      # Raises what the hook of +key+ raised, if it did.
      def check(key)
        hook = @hooks[key]
        raise hook.error if hook&.error
      end

      # Raises WrongThreadError if this thread is running a callback.
      def refuse_inside(what)
        # No callback running on any thread (the usual case): no thread variable to read.
        return if @inside.empty? || !Thread.current.thread_variable_get(INSIDE)

        raise WrongThreadError.new("#{what} from inside an h2client callback (on_informational, " \
                                   "the log handler) could wait for the library thread that " \
                                   "waits for the callback", processed: :no)
      end

      # ----- logging ---------------------------------------------------------------------

      # Sends the library's messages up to +level+ (a LOG_LEVELS key) to +handler+ (called
      # with level, target, message), or turns logging off (nil handler or :off).
      def set_log(handler, level, logger = nil)
        refuse_inside("changing the log handler")
        number = LOG_LEVELS.fetch(level) do
          raise ArgumentError, "unknown log level #{level.inspect} (#{LOG_LEVELS.keys.join(', ')})"
        end
        @log_lock.synchronize do
          if handler.nil? || number == Lib::H2_LOG_OFF
            # Blocking: returns once the old handler is running on no other thread.
            Lib.h2_set_log_callback(Lib::H2_LOG_OFF, nil, nil)
            @log_handler = nil
            @log_level = :off
            @logger = nil
          else
            after_fork
            function = log_function
            @log_handler = handler
            @log_level = level
            @logger = logger
            install_at_exit
            Lib.h2_set_log_callback(number, function, nil)
          end
        end
        nil
      end

      # The h2_log_fn function (made on first use, kept forever).
      def log_function
        @log_function || @lock.synchronize do
          @log_function ||=
            FFI::Function.new(:void, %i[pointer uint32 string string]) do |_, level, target, text|
              log(level, target, text)
            end
        end
      end

      # A handler sending each message to +logger+ (Logger#add) with the severity of its
      # level and its target as progname.
      def logger_handler(logger)
        lambda do |level, target, message|
          logger.add(SEVERITIES.fetch(LOG_LEVELS.fetch(level), Logger::DEBUG), message, target)
        end
      end

      # The library level for a Logger's level: DEBUG => :debug, INFO => :info, WARN =>
      # :warn, ERROR and above => :error.
      def level_for_logger(logger)
        severity = logger.respond_to?(:level) ? logger.level : Logger::DEBUG
        severity = Logger::DEBUG unless severity.is_a?(Integer)
        if severity <= Logger::DEBUG then :debug
        elsif severity == Logger::INFO then :info
        elsif severity == Logger::WARN then :warn
        else :error
        end
      end

      # Makes an FFI::Function in a forked child, once, which makes ffi (< 1.17) start the
      # dispatcher thread that runs callbacks of library threads (see the module's doc).
      def after_fork
        return if @pid == Process.pid

        @lock.synchronize do
          next if @pid == Process.pid

          if @informational_function || @log_function
            FFI::Function.new(:void, []) { nil }
          end
          @pid = Process.pid
        end
      end

      private

      def informational(key, head)
        hook = @hooks[key]
        return if hook.nil? || hook.error

        inside do
          # +head+ is valid during this call only: everything is copied out first.
          status = Lib.h2_response_status(head)
          fields = Client::Scratch.new.fields do |b, l, c|
            Lib.h2_response_headers_packed(head, b, l, c)
          end
          hook.callable.call(status, Response.fold(fields))
        rescue Exception => e # rubocop:disable Lint/RescueException
          # Raised by the request that got the 1xx once it returns (see Client#request).
          hook.error = e
        end
      end

      def log(level, target, message)
        handler = @log_handler
        return if handler.nil?

        inside do
          handler.call(LEVEL_NAMES.fetch(level, :trace), utf8(target), utf8(message))
        rescue StandardError => e
          unless @log_failed
            @log_failed = true
            warn "h2client: the log handler raised #{e.class}: #{e.message} " \
                 "(dropped; later failures are not reported)"
          end
        end
      end

      def inside
        t = Thread.current
        was = t.thread_variable_get(INSIDE)
        @inside.push(true)
        begin
          t.thread_variable_set(INSIDE, true)
          yield
        ensure
          t.thread_variable_set(INSIDE, was)
          @inside.pop
        end
      end

      def utf8(str)
        str.force_encoding(Encoding::UTF_8)
        str.valid_encoding? ? str : str.scrub
      end

      # At exit, Ruby stops its threads (ffi's dispatcher too) before it runs finalizers,
      # which free unclosed clients: their connections, closing, would log and wait
      # forever for the dispatcher. So logging is turned off first.
      def install_at_exit
        return if @at_exit

        @at_exit = true
        at_exit do
          if @log_handler && @pid == Process.pid && !Thread.current.thread_variable_get(INSIDE)
            set_log(nil, :off)
          end
        end
      end
    end
  end

  class << self
    # The Logger (anything with +add+ and +level+) the library's diagnostics go to, set with
    # logger=; nil if none (logging off, or a block given to on_log).
    def logger
      Callbacks.logger
    end

    # Sends the library's diagnostics, for every client of the process, to +logger+ (a Ruby
    # Logger, or anything with <tt>add(severity, message, progname)</tt> and +level+), or
    # turns them off (nil). The library's levels map to Logger severities: error to ERROR,
    # warn to WARN, info to INFO, debug and trace to DEBUG; the progname is the source
    # ("h2client", or a rustls module such as "rustls::client::hs"). The library logs what
    # <tt>logger.level</tt> lets through at the time of the call (Logger::DEBUG: every
    # request and response header field, credentials included); assign the logger again
    # after changing its level.
    #
    #   H2Client.logger = Logger.new($stderr, level: Logger::INFO)
    #   # I, [...]  INFO -- h2client: conn 1: connected to 127.0.0.1:8443
    #
    # Messages come from the library's threads through ffi (see on_log): the logger must be
    # thread-safe (Ruby's Logger is) and quick. Raises WrongThreadError inside a callback.
    def logger=(logger)
      if logger.nil?
        Callbacks.set_log(nil, :off)
      else
        unless logger.respond_to?(:add)
          raise TypeError, "logger: expected a Logger (anything with add), got #{logger.class}"
        end

        Callbacks.set_log(Callbacks.logger_handler(logger), Callbacks.level_for_logger(logger),
                          logger)
      end
    end

    # Calls the block with <tt>level, target, message</tt> for each of the library's
    # diagnostics up to +level+, for every client of the process: +level+ is a Symbol
    # (:error, :warn, :info, :debug, :trace), +target+ the source ("h2client", or a rustls
    # module such as "rustls::client::hs"), +message+ one line (UTF-8). Without a block, or
    # with +level+ :off, logging is turned off. Replaces the handler (or logger) set before.
    #
    #   H2Client.on_log(:info) { |level, target, msg| warn "#{level} #{target}: #{msg}" }
    #
    # The block runs on whichever thread logs: mostly the library's own threads, where ffi
    # runs it on a Ruby thread started for the call while the library thread waits (a
    # connection is held up meanwhile). Keep it quick and thread-safe; it must not make
    # requests or change the log handler (WrongThreadError). An exception in it is reported
    # once (warn) and dropped. :debug logs every header field, credentials included; :trace
    # (PING round trips, rustls's details) is costly. Logging is off by default, and turned
    # off at exit.
    def on_log(level = :info, &block)
      Callbacks.set_log(block, block ? level : :off)
    end

    # The level logging is on at (a LOG_LEVELS key; :off by default).
    def log_level
      Callbacks.log_level
    end
  end
end
