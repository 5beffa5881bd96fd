;;; init.el --- Emacs + eglot driver for tests/test_emacs.py  -*- lexical-binding: t -*-

;; tests/test_emacs.py starts `emacs -nw LOOSE.py FILE.py' on a pseudo-terminal, with a
;; temporary HOME whose ~/.emacs.d/init.el loads this file and KAIZEN_EMACS_TEST naming a JSON
;; config: {"setup", "python", "init_options", "file", "loose", "output", "timeout_s"}.
;;
;; Why a terminal and not --batch: eglot-ensure connects from `post-command-hook', Flymake
;; starts its backends from the command loop, and eglot sends didChange from an idle timer.
;; None of that happens in --batch, which has no command loop; under -nw all of it runs as in
;; a user's session. (It is also why Emacs loads a real init file: only then does it activate
;; installed packages, which is what makes Debian's elpa-eglot autoloadable on Emacs 28.)
;;
;; "setup" is the Elisp of docs/editors.md's Emacs section, extracted by the test: the setup
;; users copy is the setup that runs. This file loads it, checks that it registered Kaizen in
;; `eglot-server-programs', and swaps only that entry's command and initializationOptions for
;; the test's interpreter and scripted model server. The documented python-mode hook then
;; starts Kaizen by itself; nothing here calls `eglot'.
;;
;; The scenario is a list of steps, each a condition and an action, advanced by a repeating
;; timer: the command loop runs between ticks, so typed input, idle timers and process output
;; are handled exactly as when a person sits at the terminal. The quick fix is applied with
;; the keys `M-x eglot-code-actions RET RET', queued in `unread-command-events' so the command
;; loop reads them as typed input (the second RET takes the default: the preferred action,
;; "Kaizen: apply fix"). Every wait is bounded by the deadline; on success, timeout or
;; error the observations go to "output" as JSON and Emacs exits (1 unless all steps ran).
;;
;; (Not `eglot-code-action-quickfix': in eglot 1.9 it calls `eglot-code-actions' without its
;; INTERACTIVE argument, so it fetches the quick fixes and applies nothing.)

(require 'cl-lib)
(require 'json)
(require 'subr-x)

(defvar kaizen-test-config
  (json-parse-string
   (with-temp-buffer
     (insert-file-contents
      (or (getenv "KAIZEN_EMACS_TEST") (error "KAIZEN_EMACS_TEST is not set")))
     (buffer-string))
   :object-type 'plist :array-type 'array :null-object nil :false-object :json-false)
  "The test's configuration, a plist with keyword keys.")

(defun kaizen-test--conf (key)
  "The value of KEY in `kaizen-test-config'."
  (plist-get kaizen-test-config key))

(defvar kaizen-test--out nil "Observations, an alist of (SYMBOL . JSON-ENCODABLE).")
(defvar kaizen-test--done nil "Names of the steps that ran, newest first.")
(defvar kaizen-test--publishes [] "Every publishDiagnostics for the file: its count.")
(defvar kaizen-test--server-methods nil "Alist: method the server sent -> how many times.")
(defvar kaizen-test--messages nil "window/showMessage and window/logMessage texts.")
(defvar kaizen-test--code-action-ran nil "Non-nil once M-x eglot-code-actions has finished.")
(defvar kaizen-test--deadline
  (+ (float-time) (or (kaizen-test--conf :timeout_s) 30))
  "When the scenario gives up.")

(defun kaizen-test--bool (value)
  "VALUE as a JSON boolean (nil would be written as null)."
  (if value t :json-false))

(defun kaizen-test--put (key value)
  "Record VALUE as observation KEY."
  (setf (alist-get key kaizen-test--out) value))

;; The documented setup, then the test's server in its place -------------------------------

(load (kaizen-test--conf :setup) nil t)

(defun kaizen-test--use-test-server ()
  "Point the documented Kaizen entry of `eglot-server-programs' at the test's server.
Fails loudly when the documented setup did not register Kaizen the documented way."
  (let ((entry (cl-find-if (lambda (e) (and (consp (cdr e)) (equal (cadr e) "kaizen")))
                           eglot-server-programs)))
    (unless entry
      (error "docs/editors.md's setup put no \"kaizen\" entry in eglot-server-programs"))
    (let ((contact (cdr entry)))
      (kaizen-test--put 'documented
                        `((modes . ,(vconcat (mapcar #'symbol-name (car entry))))
                          (program . ,(vconcat (cl-loop for x in contact while (stringp x)
                                                        collect x)))
                          (initializationOptions
                           . ,(plist-get (cl-member-if #'keywordp contact)
                                         :initializationOptions)))))
    (setq eglot-server-programs
          (cons (cons (car entry)
                      (list (kaizen-test--conf :python) "-m" "kaizen" "serve"
                            :initializationOptions (kaizen-test--conf :init_options)))
                (delq entry eglot-server-programs)))))

;; After the setup's own `with-eval-after-load' (forms run in the order they were added).
(with-eval-after-load 'eglot (kaizen-test--use-test-server))

;; What the server sends, counted; eglot's handlers still do the work.
(with-eval-after-load 'eglot
  (advice-add
   'eglot-handle-notification :before
   (lambda (_server method &rest params)
     (let ((name (format "%s" method)))
       (cl-incf (alist-get name kaizen-test--server-methods 0 nil #'equal))
       (pcase name
         ("textDocument/publishDiagnostics"
          (when (equal (plist-get params :uri) (kaizen-test--file-uri))
            (setq kaizen-test--publishes
                  (vconcat kaizen-test--publishes
                           (list (length (plist-get params :diagnostics)))))))
         ((or "window/showMessage" "window/logMessage")
          (push (plist-get params :message) kaizen-test--messages))))))
  (advice-add
   'eglot-handle-request :before
   (lambda (_server method &rest _params)
     (cl-incf (alist-get (format "%s" method) kaizen-test--server-methods 0 nil #'equal)))))

(add-hook 'post-command-hook
          (lambda ()
            (when (eq this-command 'eglot-code-actions)
              (setq kaizen-test--code-action-ran t))))

;; Helpers --------------------------------------------------------------------------------

(defun kaizen-test--file-uri ()
  "The file:// URI eglot uses for the file under test."
  (concat "file://" (expand-file-name (kaizen-test--conf :file))))

(defun kaizen-test--diagnostics ()
  "Kaizen's diagnostics in the current buffer, as Flymake holds them."
  (cl-remove-if-not
   (lambda (d) (and (eq (flymake-diagnostic-backend d) 'eglot-flymake-backend)
                    (string-prefix-p "kaizen" (flymake-diagnostic-text d))))
   (flymake-diagnostics)))

(defun kaizen-test--describe (d)
  "Diagnostic D as JSON: its text, type, 1-based lines, 0-based columns, LSP form."
  (let ((beg (flymake-diagnostic-beg d)) (end (flymake-diagnostic-end d)))
    `((text . ,(flymake-diagnostic-text d))
      (type . ,(symbol-name (flymake-diagnostic-type d)))
      (line . ,(line-number-at-pos beg)) (col . ,(save-excursion (goto-char beg) (current-column)))
      (end_line . ,(line-number-at-pos end)) (end_col . ,(save-excursion (goto-char end) (current-column)))
      (lsp . ,(alist-get 'eglot-lsp-diag (flymake-diagnostic-data d))))))

(defun kaizen-test--describe-action (a)
  "Code action A (a plist) as JSON."
  (let ((command (plist-get a :command)))
    `((title . ,(plist-get a :title)) (kind . ,(plist-get a :kind))
      (isPreferred . ,(kaizen-test--bool (eq (plist-get a :isPreferred) t)))
      (has_edit . ,(kaizen-test--bool (plist-get a :edit)))
      (command . ,(if (stringp command) command (plist-get command :command))))))

;; The scenario ---------------------------------------------------------------------------

(defvar kaizen-test--original nil "The file's text before the fix.")
(defvar kaizen-test--publishes-before-save 0 "How many publishes there were before saving.")

(defvar kaizen-test--steps
  (list
   ;; Both files' hooks ran before the command loop's first post-command-hook connected
   ;; eglot, the file outside any project first: by now it would have its own server.
   (list "connected"
         (lambda () (eglot-current-server))
         (lambda (_)
           (let ((loose (find-buffer-visiting (kaizen-test--conf :loose))))
             (unless loose (error "Emacs is not visiting %s" (kaizen-test--conf :loose)))
             (when (with-current-buffer loose (eglot-current-server))
               (error "Kaizen started for %s, which is in no project"
                      (kaizen-test--conf :loose))))))
   (list "diagnostics"
         (lambda () (kaizen-test--diagnostics))
         (lambda (diagnostics)
           (let ((d (car diagnostics)))
             (kaizen-test--put 'diagnostics (vconcat (mapcar #'kaizen-test--describe diagnostics)))
             (setq kaizen-test--original (buffer-string))
             ;; what M-x eglot-code-actions would offer on it
             (kaizen-test--put 'actions
                               (vconcat (mapcar #'kaizen-test--describe-action
                                                (eglot-code-actions (flymake-diagnostic-beg d)
                                                                    (flymake-diagnostic-end d)))))
             ;; then do what a user does: point on the diagnostic, M-x, pick the default
             (switch-to-buffer (current-buffer))
             (delete-other-windows)
             (goto-char (flymake-diagnostic-beg d))
             (setq unread-command-events
                   (listify-key-sequence (kbd "M-x eglot-code-actions RET RET"))))))
   (list "quick fix applied"
         (lambda () kaizen-test--code-action-ran)
         (lambda (_)
           (kaizen-test--put 'text_after_edit (buffer-string))
           (kaizen-test--put 'modified (kaizen-test--bool (buffer-modified-p)))))
   (list "diagnostic cleared"
         (lambda () (null (kaizen-test--diagnostics)))
         (lambda (_)
           (setq kaizen-test--publishes-before-save (length kaizen-test--publishes))
           (save-buffer)))
   (list "saved and reviewed again"
         (lambda () (> (length kaizen-test--publishes) kaizen-test--publishes-before-save))
         (lambda (_)
           ;; the documented helper; waitForLearning: the server has recorded everything
           (kaizen-test--put 'status (kaizen-command "kaizen.getStatus" '(:waitForLearning t)))
           (kaizen-test--put 'diagnostics_after (length (kaizen-test--diagnostics)))))
   (list "stopped"
         (lambda () t)
         (lambda (_)
           (let ((server (eglot-current-server)))
             (eglot-shutdown server)
             (kaizen-test--put 'running_after_shutdown
                              (kaizen-test--bool (jsonrpc-running-p server)))))))
  "Remaining steps: (NAME CONDITION ACTION), run in the file's buffer. ACTION gets what
CONDITION returned, once it is non-nil.")

(defun kaizen-test--tail (buffer-or-name chars)
  "The last CHARS characters of BUFFER-OR-NAME, or nil when it does not exist."
  (when-let ((buffer (get-buffer buffer-or-name)))
    (with-current-buffer buffer
      (buffer-substring-no-properties (max (point-min) (- (point-max) chars)) (point-max)))))

(defun kaizen-test--finish (&optional err)
  "Write the observations (and ERR, if any) to the output file and exit Emacs.
Emacs exits even when writing fails, so the test never waits for its own timeout."
  (cancel-function-timers #'kaizen-test--tick)
  (unwind-protect
      (condition-case write-err
          (progn
            (when err
              (kaizen-test--put 'error err)
              (kaizen-test--put 'messages_buffer (kaizen-test--tail "*Messages*" 3000))
              (kaizen-test--put
               'events
               (cl-loop for b in (buffer-list)
                        when (string-match-p "EGLOT.*\\(events\\|stderr\\)" (buffer-name b))
                        concat (format "== %s\n%s\n" (buffer-name b) (kaizen-test--tail b 4000)))))
            (kaizen-test--put 'steps (vconcat (reverse kaizen-test--done)))
            (kaizen-test--put 'publishes kaizen-test--publishes)
            (kaizen-test--put 'server_methods kaizen-test--server-methods)
            (kaizen-test--put 'messages (vconcat (reverse kaizen-test--messages)))
            (kaizen-test--put 'emacs_version emacs-version)
            (kaizen-test--put 'eglot_version
                              (if-let ((desc (cadr (assq 'eglot package-alist))))
                                  (package-version-join (package-desc-version desc))
                                (locate-library "eglot")))
            (kaizen-test--put 'loose_file_server
                              (when-let ((loose (find-buffer-visiting (kaizen-test--conf :loose))))
                                (with-current-buffer loose
                                  (kaizen-test--bool (eglot-current-server)))))
            (with-temp-file (kaizen-test--conf :output)
              (insert (json-encode kaizen-test--out))))
        (error
         (setq err (or err "could not write the observations"))
         (with-temp-file (kaizen-test--conf :output)
           (insert (json-encode `((error . ,(format "%s; then writing failed: %S" err write-err))
                                  (steps . ,(vconcat (reverse kaizen-test--done)))))))))
    (kill-emacs (if err 1 0))))

(defun kaizen-test--tick ()
  "Run the next step when its condition holds; finish when none are left or time is up.
Conditions are only checked once Emacs visits the file (timers can fire during startup)."
  (condition-case err
      (let* ((buffer (find-buffer-visiting (kaizen-test--conf :file)))
             (step (car kaizen-test--steps))
             (seen (and buffer step (with-current-buffer buffer (funcall (nth 1 step))))))
        (cond ((null step) (kaizen-test--finish))
              (seen (with-current-buffer buffer (funcall (nth 2 step) seen))
                    (push (car step) kaizen-test--done)
                    (pop kaizen-test--steps))
              ((> (float-time) kaizen-test--deadline)
               (kaizen-test--finish
                (format "timed out after %ss waiting for: %s"
                        (kaizen-test--conf :timeout_s)
                        (if buffer (car step) "Emacs to visit the file"))))))
    (error (kaizen-test--finish (format "%s: %S" (or (caar kaizen-test--steps) "finish") err)))))

(run-with-timer 0.05 0.05 #'kaizen-test--tick)

;;; init.el ends here
