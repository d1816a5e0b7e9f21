// Checks the declarative structure of a Jenkinsfile without a Jenkins controller:
// the file is compiled (syntax), then evaluated against a stub that records every
// DSL call, and the record must read pipeline { agent, stages { stage('name') { steps } } }.
// What the steps do is not checked: only a controller knows its installed steps.
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

class Call {
    String name
    List args
    List<Call> children = []
    Call(String name, List args) { this.name = name; this.args = args }
}

class Recorder {
    Call call
    Recorder(Call call) { this.call = call }

    def methodMissing(String name, Object argsObj) {
        def args = argsObj as List
        def child = new Call(name, args.findAll { !(it instanceof Closure) })
        call.children << child
        def body = args.find { it instanceof Closure }
        if (body) {
            def closure = body.rehydrate(new Recorder(child), this, this)
            closure.resolveStrategy = Closure.DELEGATE_FIRST
            // A block given a value (docker.image(...).withRun { container -> }) gets a recorder for it.
            closure.maximumNumberOfParameters > 0 ? closure.call(new Recorder(new Call(name, []))) : closure.call()
        }
        // What a step returns can be called on in turn (docker.image(name).inside { }): a recorder of its own.
        return new Recorder(child)
    }

    // A global variable of a plugin (docker, env) records what is called on it, apart from the pipeline.
    def propertyMissing(String name) { return new Recorder(new Call(name, [])) }

    def propertyMissing(String name, value) { call.children << new Call("=${name}", [value]) }
}

def file = new File(args[0])
def unit = new CompilationUnit()
unit.addSource(file)
unit.compile(Phases.CONVERSION)

def root = new Call('root', [])
def script = new GroovyShell().parse(file)
script.metaClass.methodMissing = { String name, a -> new Recorder(root).methodMissing(name, a) }
script.metaClass.propertyMissing = { String name -> new Recorder(new Call(name, [])) }
script.run()

def errors = []
def pipeline = root.children.find { it.name == 'pipeline' }
if (root.children.size() != 1 || !pipeline) {
    errors << 'expected exactly one top-level pipeline block'
}
def sections = ['agent', 'options', 'environment', 'stages', 'post', 'parameters', 'triggers', 'tools']
pipeline?.children?.each { if (!(it.name in sections)) errors << "unknown pipeline section: ${it.name}" }
if (!pipeline?.children?.find { it.name == 'agent' }) {
    errors << 'pipeline has no agent'
}
def stages = pipeline?.children?.find { it.name == 'stages' }
if (!stages || !stages.children) {
    errors << 'pipeline has no stages'
}
def stageSections = ['agent', 'environment', 'when', 'steps', 'post', 'options', 'tools', 'stages', 'parallel', 'input']
stages?.children?.each { stage ->
    if (stage.name != 'stage' || stage.args.size() != 1) {
        errors << "stages may only hold stage('name') blocks, not ${stage.name}"
    }
    stage.children.each { if (!(it.name in stageSections)) errors << "stage ${stage.args}: unknown section ${it.name}" }
    if (!stage.children.find { it.name in ['steps', 'stages', 'parallel'] }) {
        errors << "stage ${stage.args} has no steps"
    }
    def when = stage.children.find { it.name == 'when' }
    if (when && when.children.findAll { it.name != 'beforeAgent' }.size() != 1) {
        errors << "stage ${stage.args}: when needs exactly one condition"
    }
}
if (errors) {
    errors.each { System.err.println("ERROR: ${it}") }
    System.exit(1)
}
println "declarative structure OK: stages ${stages.children.collect { it.args[0] }}"
